"""Drain and uncordon: a PDB-aware drain like ``kubectl drain``, and its undo.

Evictions go through the eviction API; a 429 from a PodDisruptionBudget is retried until the
drain's timeout and recorded as evidence (``eviction_refused``), never raised on the first
refusal. Every cordon writes its undo step to the run's undo log first (see
:mod:`aideon_resilience.chaos.undo`). All functions return JSON-serialisable evidence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chaoslib.exceptions import ActivityFailed

from aideon_resilience.chaos import evidence, guard, k8s, node_targets, selectors, signals, undo
from aideon_resilience.core.evidence.timeline import EvictionRefused

logger = logging.getLogger("chaostoolkit")

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
MAX_RECORDED_REFUSALS = 200

__all__ = ["DrainTimedOut", "drain_nodes", "uncordon_nodes"]


class DrainTimedOut(ActivityFailed):
    """The drain's timeout passed while a disruption budget kept refusing evictions."""

    def __init__(self, message: str, evidence: dict[str, Any]) -> None:
        super().__init__(message)
        self.evidence = evidence



@undo.register("uncordon_node", "node")
def _undo_uncordon(params: dict[str, Any], data: dict[str, Any]) -> None:
    api = node_targets.clients_for_step(data)
    try:
        node_targets.set_unschedulable(api.core, params["node"], False)
    except Exception as exc:
        if k8s.api_status(exc) == 404:  # node is gone: nothing to uncordon
            return
        raise


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
    from kubernetes import client  # Kubernetes client: only when an activity runs

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


@dataclass
class _Selection:
    """Which pods of a node the drain evicts: those `pod_selector` selects, in opted-in namespaces."""

    pod_selector: str | None
    opted_in: Callable[[str], bool]

    def skip_reason(self, pod: Any) -> str:
        ok, why = _evictable(pod)
        if not ok:
            return why
        if self.pod_selector and not selectors.matches(self.pod_selector, pod.metadata.labels):
            return "not selected by pod_selector"
        if not self.opted_in(pod.metadata.namespace):
            return f"namespace {pod.metadata.namespace} has not opted in to chaos"
        return ""


@dataclass
class _Drain:
    """One drain call across its nodes: the clients, the shared deadline, the refusals met."""

    api: k8s.KubeClients
    selection: _Selection
    deadline: float
    timeout: float
    grace_period: int | None
    backoff_max: float
    refusals: list[dict[str, Any]] = field(default_factory=list)
    refusals_total: int = 0

    def node(self, node: str) -> dict[str, Any]:
        """Evict the selected pods of `node`, retrying refusals, then wait for them to go."""
        pods = self.api.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
        skipped: list[dict[str, str]] = []
        pending: list[Any] = []
        for pod in pods:
            why = self.selection.skip_reason(pod)
            if why:
                skipped.append({"pod": f"{pod.metadata.namespace}/{pod.metadata.name}", "reason": why})
            else:
                pending.append(pod)
        evicted: list[str] = []
        to_wait: list[Any] = []
        delay = 0.5
        while pending:
            pending, last_refusal = self._evict(node, pending, evicted, to_wait)
            if pending:
                assert last_refusal is not None  # only a refused eviction leaves a pod pending
                self._back_off(node, pending, last_refusal, delay)
                delay = min(delay * 2, self.backoff_max)
        self._wait_gone(node, to_wait)
        return {"node": node, "evicted": evicted, "skipped": skipped}

    def _evict(self, node: str, pending: list[Any], evicted: list[str],
               to_wait: list[Any]) -> tuple[list[Any], dict[str, Any] | None]:
        """One pass over `pending`: the pods whose eviction was refused, and the last refusal."""
        still: list[Any] = []
        last_refusal: dict[str, Any] | None = None
        for pod in pending:
            ref = f"{pod.metadata.namespace}/{pod.metadata.name}"
            if pod.metadata.deletion_timestamp is not None:
                to_wait.append(pod)  # already terminating
                continue
            try:
                self.api.core.create_namespaced_pod_eviction(
                    pod.metadata.name, pod.metadata.namespace, _eviction_body(pod, self.grace_period)
                )
            except Exception as exc:
                status = k8s.api_status(exc)
                if status == 404:
                    evicted.append(ref)
                    continue
                if status == 429:
                    last_refusal = self._refused(node, pod, ref)
                    still.append(pod)
                    continue
                raise ActivityFailed(f"eviction of pod {ref} from node {node} failed: {exc}") from None
            evicted.append(ref)
            to_wait.append(pod)
        return still, last_refusal

    def _refused(self, node: str, pod: Any, ref: str) -> dict[str, Any]:
        """A 429: the budget's status at that moment, recorded as evidence."""
        pdb = _pdb_status(self.api.policy, pod)
        at = time.time()
        refusal = {"at": at, "node": node, "pod": ref, "pdb": pdb}
        evidence.emit(EvictionRefused(
            t=at, namespace=pod.metadata.namespace, pod=pod.metadata.name,
            pdb=(pdb or {}).get("name"), node=node,
        ))
        self.refusals_total += 1
        if len(self.refusals) < MAX_RECORDED_REFUSALS:
            self.refusals.append(refusal)
        logger.info(f"eviction of {ref} refused: {_pdb_phrase(pdb, ref)}; retrying")
        return refusal

    def _back_off(self, node: str, pending: list[Any], last_refusal: dict[str, Any], delay: float) -> None:
        now = time.time()
        if now >= self.deadline:
            raise DrainTimedOut(
                f"drain of node {node} timed out after {self.timeout:g}s: "
                f"{_pdb_phrase(last_refusal['pdb'], str(last_refusal['pod']))}",
                {"node": node, "pending": [f"{p.metadata.namespace}/{p.metadata.name}" for p in pending]},
            )
        time.sleep(max(0.0, min(delay, self.deadline - now)))

    def _wait_gone(self, node: str, to_wait: list[Any]) -> None:
        """Wait for the evicted pods to be gone, like kubectl drain."""
        while to_wait:
            to_wait = [p for p in to_wait if not _pod_gone(self.api.core, p)]
            if not to_wait:
                return
            if time.time() >= self.deadline:
                names = ", ".join(f"{p.metadata.namespace}/{p.metadata.name}" for p in to_wait)
                raise ActivityFailed(
                    f"drain of node {node} timed out after {self.timeout:g}s waiting for evicted pods to go: {names}"
                )
            time.sleep(min(0.5, max(0.0, self.deadline - time.time())))


def _cordon(api: k8s.KubeClients, targets: list[Any], context: str,
            cordoned: list[str], steps: list[undo.Step]) -> None:
    """Cordon the targets not cordoned already, each undo step written first (kept in `steps`)."""
    log = undo.current()
    for node in targets:
        nname = node_targets.node_name(node)
        if node_targets.unschedulable(node):
            continue  # cordoned by someone else: not ours to uncordon
        steps.append(log.record(
            "uncordon_node", {"node": nname}, f"uncordon node {nname}", **node_targets.context_extra(context)
        ))
        node_targets.set_unschedulable(api.core, nname, True)
        cordoned.append(nname)


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
    timeout_s = node_targets.parse_number(timeout, "timeout")
    backoff = max(0.05, node_targets.parse_number(backoff_max, "backoff_max"))
    grace = guard.opt_int(grace_period)
    cleared = guard.authorize("drain_nodes", secrets, [namespace])
    context, api = cleared.context, cleared.api
    opted_in = guard.OptIns(api.core)  # pods of namespaces that have not opted in are never evicted
    all_nodes = api.core.list_node().items
    targets = node_targets.target_nodes(api, all_nodes, name, label_selector, count, namespace, pod_label_selector)
    if not targets:
        raise ActivityFailed("no schedulable node matches the drain's target")
    guard.require_node_share(len(targets), len(all_nodes))
    started = time.time()
    drain = _Drain(api, _Selection(pod_selector, opted_in), started + timeout_s, timeout_s, grace, backoff)
    cordoned: list[str] = []
    steps: list[undo.Step] = []
    try:
        _cordon(api, targets, context, cordoned, steps)
        results = [drain.node(node_targets.node_name(node)) for node in targets]
    except signals.INTERRUPTS:
        logger.warning("drain interrupted: uncordoning the nodes it cordoned")
        _uncordon_now(api, steps)
        raise
    except DrainTimedOut as exc:
        found = {**exc.evidence, "refusals": drain.refusals, "refusals_total": drain.refusals_total}
        raise DrainTimedOut(f"{exc}; {drain.refusals_total} evictions refused", found) from None
    return {
        "action": "drain_nodes",
        "context": context,
        "nodes": results,
        "cordoned": cordoned,
        "refusals": drain.refusals,
        "refusals_total": drain.refusals_total,
        "timeout_s": timeout_s,
        "duration_s": round(time.time() - started, 3),
    }


def _uncordon_now(api: k8s.KubeClients, steps: list[undo.Step]) -> list[str]:
    done: list[str] = []
    for step in steps:
        node = step.params["node"]
        try:
            node_targets.set_unschedulable(api.core, node, False)
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
    cleared = guard.authorize("uncordon_nodes", secrets)
    context, api = cleared.context, cleared.api
    log = undo.current()
    pending = log.pending("uncordon_node")
    if name or label_selector:
        chosen = node_targets.select_nodes(api.core.list_node().items, name, label_selector, None)
        targets = [node_targets.node_name(n) for n in chosen]
    else:
        targets = sorted({str(s.params["node"]) for s in pending})
    uncordoned: list[str] = []
    for node in targets:
        try:
            node_targets.set_unschedulable(api.core, node, False)
        except Exception as exc:
            if k8s.api_status(exc) != 404:
                raise
        uncordoned.append(node)
        for step in pending:
            if step.params.get("node") == node:
                undo.mark_done(step)
    return {"action": "uncordon_nodes", "context": context, "uncordoned": uncordoned}


