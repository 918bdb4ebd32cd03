"""Pod kill bounded by a share of the workload's replicas."""

from __future__ import annotations

import random
import time
from typing import Any

from chaoslib.exceptions import ActivityFailed

from aideon_resilience.chaos import guard, k8s

__all__ = ["kill_pods"]


def kill_pods(
    namespace: str,
    label_selector: str,
    count: int = 1,
    grace_period: int = 0,
    seed: int | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Delete `count` running pods selected by `label_selector` in `namespace`.

    Refuses when `count` exceeds AIDEON_CHAOS_MAX_POD_SHARE of the selected pods, or when the
    namespace has not opted in to chaos. The workload's controller recreates the pods, so
    there is nothing to undo.
    """
    guard.require_target("kill_pods", label_selector=label_selector)
    guard.require_target("kill_pods", namespace=namespace)
    try:
        n = int(count)
    except (TypeError, ValueError):
        raise ActivityFailed(f"count: not a number: {count!r}") from None
    if n < 1:
        raise ActivityFailed(f"count must be at least 1, got {count!r}")
    cleared = guard.authorize("kill_pods", secrets, [namespace])
    context, api = cleared.context, cleared.api
    pods = [
        p
        for p in api.core.list_namespaced_pod(namespace, label_selector=label_selector).items
        if p.metadata.deletion_timestamp is None and getattr(p.status, "phase", None) in ("Running", "Pending")
    ]
    if not pods:
        raise ActivityFailed(f"no running pod matches {label_selector!r} in namespace {namespace}")
    guard.require_pod_share(n, len(pods), f"{namespace}/{label_selector}")
    rng = random.Random(seed)
    victims = rng.sample(sorted(pods, key=lambda p: p.metadata.name), n)
    killed: list[dict[str, Any]] = []
    for pod in victims:
        try:
            api.core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=int(grace_period))
        except Exception as exc:
            if k8s.api_status(exc) != 404:
                raise
        killed.append({"pod": pod.metadata.name, "node": getattr(pod.spec, "node_name", None), "at": time.time()})
    return {
        "action": "kill_pods",
        "context": context,
        "namespace": namespace,
        "label_selector": label_selector,
        "selected": len(pods),
        "killed": killed,
    }
