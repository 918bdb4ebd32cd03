"""Node loss and zone outage: the kubelets of chosen nodes stop, as when a machine or a zone is lost.

On the local cluster the node control of ``adapters.localcluster.nodes`` stops KWOK's heartbeats
(and, in ``unready`` mode, reports Ready=False at once); the control plane then does what it
does for a lost kubelet. Every loss writes its undo step (restore the node) first. All functions
return JSON-serialisable evidence.
"""

from __future__ import annotations

import logging
import time
from types import ModuleType
from typing import Any

from chaoslib.exceptions import ActivityFailed

from aideon_resilience.adapters.localcluster import nodes as local_nodes
from aideon_resilience.chaos import guard, k8s, node_targets, signals, undo

logger = logging.getLogger("chaostoolkit")

__all__ = ["lose_nodes", "recover_nodes", "recover_zone", "zone_outage"]


def _localcluster() -> ModuleType | None:
    """The node control node loss uses (a seam tests replace with a fake)."""
    return local_nodes


@undo.register("restore_node", "node")
def _undo_restore(params: dict[str, Any], data: dict[str, Any]) -> None:
    lc = _localcluster()
    if lc is None:
        raise RuntimeError("aideon_resilience.adapters.localcluster.nodes is not available")
    api = node_targets.clients_for_step(data)
    _bring_back(lc, api.core, str(params["node"]))


def _bring_back(lc: ModuleType, core: Any, node: str) -> None:
    """The node's out-of-service taint (if this run added one) off, then its kubelet back."""
    try:
        node_targets.set_out_of_service(core, node, False)
    except Exception as exc:
        if k8s.api_status(exc) != 404:
            raise
    lc.restore_node(core, node)


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
    api: k8s.KubeClients, context: str, nodes: list[str], mode: str, wait_timeout: float, zone: str | None,
    out_of_service: bool = False,
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
                    **node_targets.context_extra(context),
                )
            )
            fn(api.core, node)
        states = _wait_ready(api.core, nodes, False, wait_timeout)
        if out_of_service:  # the operator's step of a non-graceful node shutdown, once it is down
            for node in nodes:
                node_targets.set_out_of_service(api.core, node, True)
    except signals.INTERRUPTS:
        for step in steps:
            try:
                _bring_back(lc, api.core, str(step.params["node"]))
                undo.mark_done(step)
            except Exception as exc:
                logger.error(f"could not restore {step.params['node']}: {exc}")
        raise
    return {
        "action": "lose_nodes" if zone is None else "zone_outage",
        "context": context,
        "mode": mode,
        "zone": zone,
        "nodes": nodes,
        "ready": states,
        "observed_not_ready": all(s != "True" for s in states.values()),
        "out_of_service": out_of_service,
    }


def lose_nodes(
    name: str | None = None,
    label_selector: str | None = None,
    count: int | None = None,
    mode: str = "unready",
    wait_timeout: float = 60,
    namespace: str | None = None,
    pod_label_selector: str | None = None,
    out_of_service: bool = False,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Lose nodes of the local cluster: ``unready`` (heartbeats stop) or ``unreachable``.

    Targets as for :func:`drain_nodes`. `out_of_service`: once they are down, taint them
    `node.kubernetes.io/out-of-service` as an operator does after a non-graceful node shutdown,
    so their StatefulSet pods are force-deleted and replaced elsewhere (the rollback removes it).
    """
    guard.require_target(
        "lose_nodes", name=name, label_selector=label_selector, pod_label_selector=pod_label_selector
    )
    cleared = guard.authorize("lose_nodes", secrets, [namespace])
    context, api = cleared.context, cleared.api
    all_nodes = api.core.list_node().items
    picked = node_targets.target_nodes(api, all_nodes, name, label_selector, count, namespace, pod_label_selector)
    targets = [node_targets.node_name(n) for n in picked]
    if not targets:
        raise ActivityFailed("no node matches the node loss's target")
    guard.require_node_share(len(targets), len(all_nodes))
    return _lose(api, context, targets, mode, node_targets.parse_number(wait_timeout, "wait_timeout"), None,
                 _flag(out_of_service))


def _flag(value: object) -> bool:
    """A boolean argument, also as the text an experiment's configuration gives."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def zone_outage(
    zone: str,
    mode: str = "unready",
    wait_timeout: float = 60,
    namespace: str | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Lose every node of one zone (label topology.kubernetes.io/zone).

    `namespace`: the namespace whose workloads the outage tests; it must have opted in to chaos.
    """
    guard.require_target("zone_outage", zone=zone)
    cleared = guard.authorize("zone_outage", secrets, [namespace])
    context, api = cleared.context, cleared.api
    all_nodes = api.core.list_node().items
    lc = _require_lc()
    zones: dict[str, list[str]] = lc.nodes_by_zone(api.core)
    if zone not in zones or not zones[zone]:
        raise ActivityFailed(f"no node in zone {zone!r} (zones: {', '.join(sorted(zones)) or 'none'})")
    targets = sorted(zones[zone])
    guard.require_node_share(len(targets), len(all_nodes))
    return _lose(api, context, targets, mode, node_targets.parse_number(wait_timeout, "wait_timeout"), zone)


def recover_nodes(
    name: str | None = None,
    label_selector: str | None = None,
    wait_timeout: float = 60,
    zone: str | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Bring lost nodes back; without a target, the nodes this run lost (from the undo log)."""
    cleared = guard.authorize("recover_nodes", secrets)
    context, api = cleared.context, cleared.api
    lc = _require_lc()
    pending = undo.current().pending("restore_node")
    if zone:
        pending = [s for s in pending if s.params.get("zone") == zone]
    if name or label_selector:
        chosen = node_targets.select_nodes(api.core.list_node().items, name, label_selector, None)
        targets = [node_targets.node_name(n) for n in chosen]
    else:
        targets = sorted({str(s.params["node"]) for s in pending})
    for node in targets:
        _bring_back(lc, api.core, node)
        for step in pending:
            if step.params.get("node") == node:
                undo.mark_done(step)
    states = _wait_ready(api.core, targets, True, node_targets.parse_number(wait_timeout, "wait_timeout"))
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
