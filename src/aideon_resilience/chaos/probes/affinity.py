"""Anti-affinity probe: replicas per node and per zone."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from chaoslib.exceptions import ActivityFailed

from aideon_resilience.chaos import k8s
from aideon_resilience.core.selectors import ZONE_LABEL

__all__ = ["anti_affinity_held"]


def anti_affinity_held(
    namespace: str,
    label_selector: str,
    max_per_node: int = 1,
    min_zones: int = 1,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """No node runs more than `max_per_node` of the pods and they span at least `min_zones` zones.

    Pending pods are reported (anti-affinity can leave them unscheduled) but do not break it.
    """
    if not label_selector:
        raise ActivityFailed("anti_affinity_held needs a label_selector")
    api = k8s.clients(secrets)
    pods = [
        p
        for p in api.core.list_namespaced_pod(namespace, label_selector=label_selector).items
        if p.metadata.deletion_timestamp is None and getattr(p.status, "phase", None) in ("Running", "Pending")
    ]
    zones_of = {
        n.metadata.name: (n.metadata.labels or {}).get(ZONE_LABEL, "")
        for n in api.core.list_node().items
    }
    per_node: Counter[str] = Counter()
    per_zone: Counter[str] = Counter()
    pending: list[str] = []
    for p in pods:
        node = getattr(p.spec, "node_name", None)
        if not node:
            pending.append(p.metadata.name)
            continue
        per_node[node] += 1
        per_zone[zones_of.get(node, "") or "unknown"] += 1
    worst = max(per_node.values(), default=0)
    wanted_zones = min(int(min_zones), len(per_node)) if per_node else int(min_zones)
    ok = bool(per_node) and worst <= int(max_per_node) and len(per_zone) >= wanted_zones
    return {
        "probe": "anti_affinity_held",
        "at": time.time(),
        "namespace": namespace,
        "label_selector": label_selector,
        "per_node": dict(per_node),
        "per_zone": dict(per_zone),
        "max_on_one_node": worst,
        "zones": len(per_zone),
        "pending": pending,
        "ok": ok,
    }
