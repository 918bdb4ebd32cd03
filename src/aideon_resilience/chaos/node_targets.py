"""Node targets shared by the node actions: which nodes an action may hit, and clients for undo.

Selection by name, label selector or the nodes hosting a workload's pods, bounded by the node
share of the safety guard; the context an undo step needs to act again later.
"""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed

from aideon_resilience.chaos import guard, k8s, selectors


def parse_number(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ActivityFailed(f"{what}: not a number: {value!r}") from None


def parse_count(value: Any) -> int | None:
    if value in (None, ""):
        return None
    n = int(parse_number(value, "count"))
    if n < 1:
        raise ActivityFailed(f"count must be at least 1, got {value!r}")
    return n


def node_name(node: Any) -> str:
    return str(node.metadata.name)


def unschedulable(node: Any) -> bool:
    return bool(getattr(node.spec, "unschedulable", False)) if node.spec is not None else False


def select_nodes(all_nodes: list[Any], name: Any, label_selector: str | None, count: Any) -> list[Any]:
    wanted = guard.split_names(name)
    by_name = {node_name(n): n for n in all_nodes}
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
    chosen.sort(key=lambda n: (unschedulable(n), node_name(n)))
    n = parse_count(count)
    if n is not None:
        chosen = chosen[:n]
    return chosen


def nodes_hosting(
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
    hosting = [n for n in all_nodes if node_name(n) in counts]
    if not hosting:
        raise ActivityFailed(f"no node runs a pod matching {pod_label_selector!r} in namespace {namespace}")
    hosting.sort(key=lambda n: -counts[node_name(n)])
    return hosting


def target_nodes(
    api: k8s.KubeClients,
    all_nodes: list[Any],
    name: Any,
    label_selector: str | None,
    count: Any,
    namespace: str | None,
    pod_label_selector: str | None,
) -> list[Any]:
    pool = nodes_hosting(api, all_nodes, namespace, pod_label_selector)
    if pod_label_selector and not name and not label_selector:
        chosen = [n for n in pool if not unschedulable(n)]
        limit = parse_count(count)
        return chosen[:limit] if limit is not None else chosen
    picked = select_nodes(all_nodes, name, label_selector, count if not pod_label_selector else None)
    if pod_label_selector:
        hosting = {node_name(n) for n in pool}
        picked = [n for n in picked if node_name(n) in hosting]
        limit = parse_count(count)
        picked = picked[:limit] if limit is not None else picked
    return picked


def context_extra(context: str) -> dict[str, Any]:
    return {"context": context, "kubeconfig": k8s.kubeconfig_path()}


def clients_for_step(data: dict[str, Any]) -> k8s.KubeClients:
    return k8s.clients_for(data.get("kubeconfig"), data.get("context"))


def set_unschedulable(core: Any, node: str, value: bool) -> None:
    core.patch_node(node, {"spec": {"unschedulable": value}})




OUT_OF_SERVICE = {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}


def set_out_of_service(core: Any, node: str, value: bool) -> bool:
    """Add (or remove) the `node.kubernetes.io/out-of-service` taint of Kubernetes' non-graceful
    node shutdown: on a node that is not ready, the pod garbage collector then force-deletes its
    terminating pods (a StatefulSet can replace them) and volumes are detached. Returns whether
    the taints changed; other taints are kept."""
    taints = [t.to_dict() if hasattr(t, "to_dict") else dict(t) for t in (core.read_node(node).spec.taints or [])]
    kept = [{k: v for k, v in t.items() if v is not None} for t in taints if t.get("key") != OUT_OF_SERVICE["key"]]
    wanted = [*kept, OUT_OF_SERVICE] if value else kept
    if len(wanted) == len(taints) and value == any(t.get("key") == OUT_OF_SERVICE["key"] for t in taints):
        return False
    for t in wanted:  # the client's snake_case dict back to the API's names
        if "time_added" in t:
            t["timeAdded"] = t.pop("time_added")
    core.patch_node(node, {"spec": {"taints": wanted}})
    return True
