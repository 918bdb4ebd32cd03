"""Node actions: a PDB-aware drain (like ``kubectl drain``), uncordon, node loss, zone outage.

Every mutation writes its undo step to the run's undo log first (see
:mod:`aideon_resilience.chaos.undo`). All functions return JSON-serialisable evidence.
"""

from __future__ import annotations

import logging
import time
from types import ModuleType
from typing import Any

from chaoslib.exceptions import ActivityFailed, InterruptExecution

from aideon_resilience.chaos import evidence, guard, k8s, selectors, undo

logger = logging.getLogger("chaostoolkit")

ZONE_LABEL = "topology.kubernetes.io/zone"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
MAX_RECORDED_REFUSALS = 200

__all__ = [
    "DrainTimedOut",
    "drain_nodes",
    "lose_nodes",
    "recover_nodes",
    "recover_zone",
    "uncordon_nodes",
    "zone_outage",
]


class DrainTimedOut(ActivityFailed):
    """The drain's timeout passed while a disruption budget kept refusing evictions."""

    def __init__(self, message: str, evidence: dict[str, Any]) -> None:
        super().__init__(message)
        self.evidence = evidence


_INTERRUPTS = (KeyboardInterrupt, SystemExit, InterruptExecution)


# --- helpers ---------------------------------------------------------------------------------


def _num(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ActivityFailed(f"{what}: not a number: {value!r}") from None


def _count(value: Any) -> int | None:
    if value in (None, ""):
        return None
    n = int(_num(value, "count"))
    if n < 1:
        raise ActivityFailed(f"count must be at least 1, got {value!r}")
    return n


def _node_name(node: Any) -> str:
    return str(node.metadata.name)


def _unschedulable(node: Any) -> bool:
    return bool(getattr(node.spec, "unschedulable", False)) if node.spec is not None else False


def _select_nodes(all_nodes: list[Any], name: Any, label_selector: str | None, count: Any) -> list[Any]:
    wanted = guard.split_names(name)
    by_name = {_node_name(n): n for n in all_nodes}
    if wanted:
        missing = [w for w in wanted if w not in by_name]
        if missing:
            raise ActivityFailed(f"no such node(s): {', '.join(missing)}")
        chosen = [by_name[w] for w in wanted]
    else:
        chosen = []
    if label_selector:
        pool = chosen or all_nodes
        chosen = [n for n in pool if selectors.matches(label_selector, n.metadata.labels)]
        if not chosen:
            raise ActivityFailed(f"no node matches label selector {label_selector!r}")
    chosen.sort(key=lambda n: (_unschedulable(n), _node_name(n)))
    n = _count(count)
    if n is not None:
        chosen = chosen[:n]
    return chosen


def _nodes_hosting(
    api: k8s.KubeClients, all_nodes: list[Any], namespace: str | None, pod_label_selector: str | None
) -> list[Any]:
    """Nodes running pods that match `pod_label_selector` in `namespace`, most pods first."""
    if not pod_label_selector:
        return all_nodes
    if not namespace:
        raise ActivityFailed("pod_label_selector needs a namespace")
    pods = api.core.list_namespaced_pod(namespace, label_selector=pod_label_selector).items
    counts: dict[str, int] = {}
    for pod in pods:
        node = getattr(pod.spec, "node_name", None)
        if node and pod.metadata.deletion_timestamp is None:
            counts[node] = counts.get(node, 0) + 1
    hosting = [n for n in all_nodes if _node_name(n) in counts]
    if not hosting:
        raise ActivityFailed(f"no node runs a pod matching {pod_label_selector!r} in namespace {namespace}")
    hosting.sort(key=lambda n: -counts[_node_name(n)])
    return hosting


def _targets(
    api: k8s.KubeClients,
    all_nodes: list[Any],
    name: Any,
    label_selector: str | None,
    count: Any,
    namespace: str | None,
    pod_label_selector: str | None,
) -> list[Any]:
    pool = _nodes_hosting(api, all_nodes, namespace, pod_label_selector)
    if pod_label_selector and not name and not label_selector:
        chosen = [n for n in pool if not _unschedulable(n)]
        limit = _count(count)
        return chosen[:limit] if limit is not None else chosen
    picked = _select_nodes(all_nodes, name, label_selector, count if not pod_label_selector else None)
    if pod_label_selector:
        hosting = {_node_name(n) for n in pool}
        picked = [n for n in picked if _node_name(n) in hosting]
        limit = _count(count)
        picked = picked[:limit] if limit is not None else picked
    return picked


def _context_extra(context: str) -> dict[str, Any]:
    return {"context": context, "kubeconfig": k8s.kubeconfig_path()}


def _clients_for_step(data: dict[str, Any]) -> k8s.KubeClients:
    return k8s.clients_for(data.get("kubeconfig"), data.get("context"))


def _set_unschedulable(core: Any, node: str, value: bool) -> None:
    core.patch_node(node, {"spec": {"unschedulable": value}})


@undo.register("uncordon_node")
def _undo_uncordon(params: dict[str, Any], data: dict[str, Any]) -> None:
    api = _clients_for_step(data)
    try:
        _set_unschedulable(api.core, params["node"], False)
    except Exception as exc:
        if k8s.api_status(exc) == 404:  # node is gone: nothing to uncordon
            return
        raise


def _localcluster() -> ModuleType | None:
    try:
        from aideon_resilience.adapters.localcluster import nodes as lc_nodes
    except ImportError:
        return None
    return lc_nodes


@undo.register("restore_node")
def _undo_restore(params: dict[str, Any], data: dict[str, Any]) -> None:
    lc = _localcluster()
    if lc is None:
        raise RuntimeError("aideon_resilience.adapters.localcluster.nodes is not available")
    api = _clients_for_step(data)
    lc.restore_node(api.core, params["node"])


# --- PDB status ------------------------------------------------------------------------------


def _pdb_status(policy: Any, pod: Any) -> dict[str, Any] | None:
    ns = pod.metadata.namespace
    try:
        pdbs = policy.list_namespaced_pod_disruption_budget(ns).items
    except Exception as exc:
        return {"error": f"could not read PodDisruptionBudgets in {ns}: {exc}"}
    for pdb in pdbs:
        if k8s.labels_match(pdb.spec.selector, pod.metadata.labels):
            st = pdb.status
            return {
                "namespace": ns,
                "name": pdb.metadata.name,
                "current_healthy": getattr(st, "current_healthy", None),
                "desired_healthy": getattr(st, "desired_healthy", None),
                "disruptions_allowed": getattr(st, "disruptions_allowed", None),
                "expected_pods": getattr(st, "expected_pods", None),
            }
    return None


def _pdb_phrase(pdb: dict[str, Any] | None, pod: str) -> str:
    if not pdb or "name" not in pdb:
        return f"eviction of pod {pod} refused (429) and no PodDisruptionBudget could be read"
    return (
        f"PodDisruptionBudget {pdb['namespace']}/{pdb['name']} allows {pdb['disruptions_allowed']} "
        f"disruptions (healthy {pdb['current_healthy']}, minimum {pdb['desired_healthy']})"
    )


# --- drain -----------------------------------------------------------------------------------


def _evictable(pod: Any) -> tuple[bool, str]:
    owners = pod.metadata.owner_references or []
    if any(o.kind == "DaemonSet" for o in owners):
        return False, "DaemonSet pod"
    if MIRROR_ANNOTATION in (pod.metadata.annotations or {}):
        return False, "mirror pod"
    if getattr(pod.status, "phase", None) in ("Succeeded", "Failed"):
        return False, "finished pod"
    return True, ""


def _eviction_body(pod: Any, grace_period: int | None) -> Any:
    from kubernetes import client

    delete_options = (
        client.V1DeleteOptions(grace_period_seconds=grace_period) if grace_period is not None else None
    )
    return client.V1Eviction(
        metadata=client.V1ObjectMeta(name=pod.metadata.name, namespace=pod.metadata.namespace),
        delete_options=delete_options,
    )


def _pod_gone(core: Any, pod: Any) -> bool:
    try:
        current = core.read_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
    except Exception as exc:
        if k8s.api_status(exc) == 404:
            return True
        raise
    return bool(current.metadata.uid != pod.metadata.uid)


def _drain_one(
    api: k8s.KubeClients,
    node: str,
    pod_selector: str | None,
    deadline: float,
    timeout: float,
    grace_period: int | None,
    backoff_max: float,
    refusals: list[dict[str, Any]],
    counters: dict[str, int],
) -> dict[str, Any]:
    pods = api.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    skipped: list[dict[str, str]] = []
    pending: list[Any] = []
    for pod in pods:
        ok, why = _evictable(pod)
        ref = f"{pod.metadata.namespace}/{pod.metadata.name}"
        if ok and pod_selector and not selectors.matches(pod_selector, pod.metadata.labels):
            ok, why = False, "not selected by pod_selector"
        if not ok:
            skipped.append({"pod": ref, "reason": why})
        else:
            pending.append(pod)
    evicted: list[str] = []
    to_wait: list[Any] = []
    delay = 0.5
    last_refusal: dict[str, Any] | None = None
    while pending:
        still: list[Any] = []
        for pod in pending:
            ref = f"{pod.metadata.namespace}/{pod.metadata.name}"
            if pod.metadata.deletion_timestamp is not None:
                to_wait.append(pod)  # already terminating
                continue
            try:
                api.core.create_namespaced_pod_eviction(
                    pod.metadata.name, pod.metadata.namespace, _eviction_body(pod, grace_period)
                )
            except Exception as exc:
                status = k8s.api_status(exc)
                if status == 404:
                    evicted.append(ref)
                    continue
                if status == 429:
                    pdb = _pdb_status(api.policy, pod)
                    last_refusal = {"at": time.time(), "node": node, "pod": ref, "pdb": pdb}
                    evidence.emit({
                        "t": last_refusal["at"], "kind": "eviction_refused", "namespace": pod.metadata.namespace,
                        "pod": pod.metadata.name, "pdb": (pdb or {}).get("name"), "node": node,
                    })  # fmt: skip
                    counters["refusals"] += 1
                    if len(refusals) < MAX_RECORDED_REFUSALS:
                        refusals.append(last_refusal)
                    logger.info(f"eviction of {ref} refused: {_pdb_phrase(pdb, ref)}; retrying")
                    still.append(pod)
                    continue
                raise ActivityFailed(f"eviction of pod {ref} from node {node} failed: {exc}") from None
            evicted.append(ref)
            to_wait.append(pod)
        pending = still
        if pending:
            now = time.time()
            if now >= deadline:
                assert last_refusal is not None
                ref = str(last_refusal["pod"])
                raise DrainTimedOut(
                    f"drain of node {node} timed out after {timeout:g}s: "
                    f"{_pdb_phrase(last_refusal['pdb'], ref)}",
                    {"node": node, "pending": [f"{p.metadata.namespace}/{p.metadata.name}" for p in pending]},
                )
            time.sleep(max(0.0, min(delay, deadline - now)))
            delay = min(delay * 2, backoff_max)
    # wait for the evicted pods to be gone, like kubectl drain
    while to_wait:
        to_wait = [p for p in to_wait if not _pod_gone(api.core, p)]
        if not to_wait:
            break
        if time.time() >= deadline:
            names = ", ".join(f"{p.metadata.namespace}/{p.metadata.name}" for p in to_wait)
            raise ActivityFailed(
                f"drain of node {node} timed out after {timeout:g}s waiting for evicted pods to go: {names}"
            )
        time.sleep(min(0.5, max(0.0, deadline - time.time())))
    return {"node": node, "evicted": evicted, "skipped": skipped}


def drain_nodes(
    name: str | None = None,
    label_selector: str | None = None,
    count: int | None = None,
    timeout: float = 120,
    grace_period: int | None = None,
    backoff_max: float = 5.0,
    namespace: str | None = None,
    pod_label_selector: str | None = None,
    pod_selector: str | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Cordon the target nodes and evict their pods like ``kubectl drain``.

    DaemonSet and mirror pods are skipped. An eviction refused with 429 (a disruption budget)
    is recorded with the budget's status at that moment and retried with exponential backoff
    (capped at ``backoff_max`` seconds) until ``timeout`` seconds have passed for the whole
    call; then the action fails naming the budget. Nodes stay cordoned until
    ``uncordon_nodes`` (the experiment's rollback) or the undo log puts them back.

    Targets: `name` (comma separated), `label_selector` on nodes, and/or the nodes running
    pods that match `pod_label_selector` in `namespace`; `count` keeps the first ones.
    `pod_selector` (like ``kubectl drain --pod-selector``) limits which pods are evicted.
    """
    guard.require_target(
        "drain_nodes", name=name, label_selector=label_selector, pod_label_selector=pod_label_selector
    )
    timeout_s = _num(timeout, "timeout")
    backoff = max(0.05, _num(backoff_max, "backoff_max"))
    grace = guard.opt_int(grace_period)
    context = guard.require_allowed_context(secrets)
    api = k8s.clients(secrets)
    all_nodes = api.core.list_node().items
    targets = _targets(api, all_nodes, name, label_selector, count, namespace, pod_label_selector)
    if not targets:
        raise ActivityFailed("no schedulable node matches the drain's target")
    guard.require_node_share(len(targets), len(all_nodes))
    log = undo.current()
    started = time.time()
    deadline = started + timeout_s
    refusals: list[dict[str, Any]] = []
    counters = {"refusals": 0}
    cordoned: list[str] = []
    results: list[dict[str, Any]] = []
    steps: list[undo.Step] = []
    try:
        for node in targets:
            nname = _node_name(node)
            if _unschedulable(node):
                continue  # cordoned by someone else: not ours to uncordon
            step = log.record(
                "uncordon_node", {"node": nname}, f"uncordon node {nname}", **_context_extra(context)
            )
            steps.append(step)
            _set_unschedulable(api.core, nname, True)
            cordoned.append(nname)
        for node in targets:
            results.append(
                _drain_one(
                    api, _node_name(node), pod_selector, deadline, timeout_s, grace, backoff, refusals, counters
                )
            )
    except _INTERRUPTS:
        logger.warning("drain interrupted: uncordoning the nodes it cordoned")
        _uncordon_now(api, steps)
        raise
    except DrainTimedOut as exc:
        evidence = {**exc.evidence, "refusals": refusals, "refusals_total": counters["refusals"]}
        raise DrainTimedOut(f"{exc}; {counters['refusals']} evictions refused", evidence) from None
    return {
        "action": "drain_nodes",
        "context": context,
        "nodes": results,
        "cordoned": cordoned,
        "refusals": refusals,
        "refusals_total": counters["refusals"],
        "timeout_s": timeout_s,
        "duration_s": round(time.time() - started, 3),
    }


def _uncordon_now(api: k8s.KubeClients, steps: list[undo.Step]) -> list[str]:
    done: list[str] = []
    for step in steps:
        node = step.params["node"]
        try:
            _set_unschedulable(api.core, node, False)
        except Exception as exc:
            if k8s.api_status(exc) != 404:
                logger.error(f"could not uncordon {node}: {exc}; `aideon-resilience rollback` will retry")
                continue
        undo.mark_done(step)
        done.append(node)
    return done


def uncordon_nodes(
    name: str | None = None,
    label_selector: str | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Make nodes schedulable again.

    Without a target it uncordons exactly the nodes this run's drains cordoned (from the undo
    log), which is what an experiment's rollback wants; with a name or label selector it
    uncordons those nodes.
    """
    context = guard.require_allowed_context(secrets)
    api = k8s.clients(secrets)
    log = undo.current()
    pending = log.pending("uncordon_node")
    if name or label_selector:
        targets = [_node_name(n) for n in _select_nodes(api.core.list_node().items, name, label_selector, None)]
    else:
        targets = sorted({str(s.params["node"]) for s in pending})
    uncordoned: list[str] = []
    for node in targets:
        try:
            _set_unschedulable(api.core, node, False)
        except Exception as exc:
            if k8s.api_status(exc) != 404:
                raise
        uncordoned.append(node)
        for step in pending:
            if step.params.get("node") == node:
                undo.mark_done(step)
    return {"action": "uncordon_nodes", "context": context, "uncordoned": uncordoned}


# --- node loss and zone outage ---------------------------------------------------------------


def _ready_status(core: Any, node: str) -> str:
    try:
        obj = core.read_node(node)
    except Exception as exc:
        if k8s.api_status(exc) == 404:
            return "Gone"
        raise
    for cond in (obj.status.conditions or []) if obj.status else []:
        if cond.type == "Ready":
            return str(cond.status)
    return "Unknown"


def _wait_ready(core: Any, nodes: list[str], want_ready: bool, wait_timeout: float) -> dict[str, str]:
    deadline = time.time() + wait_timeout
    states: dict[str, str] = {}
    while True:
        states = {n: _ready_status(core, n) for n in nodes}
        done = all((s == "True") == want_ready for s in states.values())
        if done or time.time() >= deadline:
            return states
        time.sleep(min(1.0, max(0.0, deadline - time.time())))


def _require_lc() -> ModuleType:
    lc = _localcluster()
    if lc is None:
        raise ActivityFailed(
            "node loss needs aideon_resilience.adapters.localcluster.nodes (the local cluster's node control)"
        )
    return lc


def _lose(
    api: k8s.KubeClients, context: str, nodes: list[str], mode: str, wait_timeout: float, zone: str | None
) -> dict[str, Any]:
    lc = _require_lc()
    fn = {"unready": lc.make_node_unready, "unreachable": lc.make_node_unreachable}.get(mode)
    if fn is None:
        raise ActivityFailed(f"mode must be 'unready' or 'unreachable', got {mode!r}")
    log = undo.current()
    steps: list[undo.Step] = []
    try:
        for node in nodes:
            steps.append(
                log.record(
                    "restore_node",
                    {"node": node, "zone": zone},
                    f"restore node {node}",
                    **_context_extra(context),
                )
            )
            fn(api.core, node)
    except _INTERRUPTS:
        for step in steps:
            try:
                lc.restore_node(api.core, step.params["node"])
                undo.mark_done(step)
            except Exception as exc:
                logger.error(f"could not restore {step.params['node']}: {exc}")
        raise
    states = _wait_ready(api.core, nodes, False, wait_timeout)
    return {
        "action": "lose_nodes" if zone is None else "zone_outage",
        "context": context,
        "mode": mode,
        "zone": zone,
        "nodes": nodes,
        "ready": states,
        "observed_not_ready": all(s != "True" for s in states.values()),
    }


def lose_nodes(
    name: str | None = None,
    label_selector: str | None = None,
    count: int | None = None,
    mode: str = "unready",
    wait_timeout: float = 60,
    namespace: str | None = None,
    pod_label_selector: str | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Lose nodes of the local cluster: ``unready`` (heartbeats stop) or ``unreachable``.

    Targets as for :func:`drain_nodes`.
    """
    guard.require_target(
        "lose_nodes", name=name, label_selector=label_selector, pod_label_selector=pod_label_selector
    )
    context = guard.require_allowed_context(secrets)
    api = k8s.clients(secrets)
    all_nodes = api.core.list_node().items
    picked = _targets(api, all_nodes, name, label_selector, count, namespace, pod_label_selector)
    targets = [_node_name(n) for n in picked]
    if not targets:
        raise ActivityFailed("no node matches the node loss's target")
    guard.require_node_share(len(targets), len(all_nodes))
    return _lose(api, context, targets, mode, _num(wait_timeout, "wait_timeout"), None)


def zone_outage(
    zone: str,
    mode: str = "unready",
    wait_timeout: float = 60,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Lose every node of one zone (label topology.kubernetes.io/zone)."""
    guard.require_target("zone_outage", zone=zone)
    context = guard.require_allowed_context(secrets)
    api = k8s.clients(secrets)
    all_nodes = api.core.list_node().items
    lc = _require_lc()
    zones: dict[str, list[str]] = lc.nodes_by_zone(api.core)
    if zone not in zones or not zones[zone]:
        raise ActivityFailed(f"no node in zone {zone!r} (zones: {', '.join(sorted(zones)) or 'none'})")
    targets = sorted(zones[zone])
    guard.require_node_share(len(targets), len(all_nodes))
    return _lose(api, context, targets, mode, _num(wait_timeout, "wait_timeout"), zone)


def recover_nodes(
    name: str | None = None,
    label_selector: str | None = None,
    wait_timeout: float = 60,
    zone: str | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Bring lost nodes back; without a target, the nodes this run lost (from the undo log)."""
    context = guard.require_allowed_context(secrets)
    api = k8s.clients(secrets)
    lc = _require_lc()
    pending = undo.current().pending("restore_node")
    if zone:
        pending = [s for s in pending if s.params.get("zone") == zone]
    if name or label_selector:
        targets = [_node_name(n) for n in _select_nodes(api.core.list_node().items, name, label_selector, None)]
    else:
        targets = sorted({str(s.params["node"]) for s in pending})
    for node in targets:
        lc.restore_node(api.core, node)
        for step in pending:
            if step.params.get("node") == node:
                undo.mark_done(step)
    states = _wait_ready(api.core, targets, True, _num(wait_timeout, "wait_timeout"))
    return {
        "action": "recover_nodes",
        "context": context,
        "nodes": targets,
        "ready": states,
        "observed_ready": all(s == "True" for s in states.values()),
    }


def recover_zone(
    zone: str | None = None, wait_timeout: float = 60, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Bring back the nodes this run's zone outage took down."""
    return recover_nodes(zone=zone or None, wait_timeout=wait_timeout, secrets=secrets)
