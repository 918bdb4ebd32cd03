"""PodDisruptionBudget probes."""

from __future__ import annotations

import time
from typing import Any

from chaoslib.exceptions import ActivityFailed

from aideon_resilience.chaos import k8s
from aideon_resilience.chaos.probes._sampling import sample

__all__ = ["pdb_held", "pdb_status"]


def _status(pdb: Any) -> dict[str, Any]:
    st = pdb.status
    healthy = getattr(st, "current_healthy", None) if st else None
    desired = getattr(st, "desired_healthy", None) if st else None
    return {
        "at": time.time(),
        "name": pdb.metadata.name,
        "current_healthy": healthy,
        "desired_healthy": desired,
        "disruptions_allowed": getattr(st, "disruptions_allowed", None) if st else None,
        "expected_pods": getattr(st, "expected_pods", None) if st else None,
        "held": healthy is not None and desired is not None and healthy >= desired,
    }


def _read(policy: Any, namespace: str, name: str | None) -> list[Any]:
    if name:
        try:
            return [policy.read_namespaced_pod_disruption_budget(name, namespace)]
        except Exception as exc:
            if k8s.api_status(exc) == 404:
                raise ActivityFailed(f"no PodDisruptionBudget {namespace}/{name}") from None
            raise
    items = list(policy.list_namespaced_pod_disruption_budget(namespace).items)
    if not items:
        raise ActivityFailed(f"no PodDisruptionBudget in namespace {namespace}")
    return items


def pdb_status(
    namespace: str, name: str | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Status of one budget (or all of the namespace's): healthy versus minimum, now."""
    api = k8s.clients(secrets)
    budgets = [_status(p) for p in _read(api.policy, namespace, name)]
    return {"probe": "pdb_status", "namespace": namespace, "budgets": budgets, "ok": all(b["held"] for b in budgets)}


def pdb_held(
    namespace: str,
    name: str | None = None,
    window: float = 0,
    interval: float = 2,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The budget(s) kept healthy pods at or above their minimum in every sample of the window."""
    api = k8s.clients(secrets)

    def once() -> dict[str, Any]:
        return {"at": time.time(), "budgets": [_status(p) for p in _read(api.policy, namespace, name)]}

    samples = sample(once, float(window), float(interval))
    broken = [
        {"at": s["at"], **b} for s in samples for b in s["budgets"] if not b["held"]
    ]
    margins = [
        b["current_healthy"] - b["desired_healthy"]
        for s in samples
        for b in s["budgets"]
        if b["current_healthy"] is not None and b["desired_healthy"] is not None
    ]
    return {
        "probe": "pdb_held",
        "namespace": namespace,
        "name": name,
        "samples": len(samples),
        "min_margin": min(margins) if margins else None,
        "violations": broken,
        "last": samples[-1]["budgets"],
        "ok": not broken and bool(margins),
    }
