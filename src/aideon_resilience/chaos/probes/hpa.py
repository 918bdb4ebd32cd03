"""HorizontalPodAutoscaler probes."""

from __future__ import annotations

import time
from typing import Any

from chaoslib.exceptions import ActivityFailed

from aideon_resilience.chaos import k8s

__all__ = ["hpa_reaches", "hpa_status"]


def _state(hpa: Any) -> dict[str, Any]:
    st = hpa.status
    conditions = [
        {"type": c.type, "status": c.status, "reason": getattr(c, "reason", None)}
        for c in ((getattr(st, "conditions", None) or []) if st else [])
    ]
    able = next((c["status"] for c in conditions if c["type"] == "AbleToScale"), None)
    current = int(getattr(st, "current_replicas", None) or 0) if st else 0
    desired = int(getattr(st, "desired_replicas", None) or 0) if st else 0
    min_r = int(hpa.spec.min_replicas or 1)
    max_r = int(hpa.spec.max_replicas)
    return {
        "at": time.time(),
        "current_replicas": current,
        "desired_replicas": desired,
        "min_replicas": min_r,
        "max_replicas": max_r,
        "at_max": current >= max_r,
        "conditions": conditions,
        "able_to_scale": able,
    }


def _read(autoscaling: Any, namespace: str, name: str) -> Any:
    try:
        return autoscaling.read_namespaced_horizontal_pod_autoscaler(name, namespace)
    except Exception as exc:
        if k8s.api_status(exc) == 404:
            raise ActivityFailed(f"no HorizontalPodAutoscaler {namespace}/{name}") from None
        raise


def hpa_status(namespace: str, name: str, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Replicas, bounds and conditions; ok when at least minReplicas run and it can scale."""
    api = k8s.clients(secrets)
    state = _state(_read(api.autoscaling, namespace, name))
    ok = state["current_replicas"] >= state["min_replicas"] and state["able_to_scale"] != "False"
    return {"probe": "hpa_status", "namespace": namespace, "name": name, **state, "ok": ok}


def hpa_reaches(
    namespace: str,
    name: str,
    replicas: int,
    timeout: float = 300,
    interval: float = 5,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Time for the HPA to reach at least `replicas` current replicas (ok when within timeout)."""
    api = k8s.clients(secrets)
    target = int(replicas)
    start = time.time()
    deadline = start + float(timeout)
    history: list[dict[str, Any]] = []
    while True:
        state = _state(_read(api.autoscaling, namespace, name))
        history.append({"at": state["at"], "current": state["current_replicas"], "desired": state["desired_replicas"]})
        if state["current_replicas"] >= target or time.time() >= deadline:
            break
        time.sleep(min(float(interval), max(0.1, deadline - time.time())))
    reached = state["current_replicas"] >= target
    return {
        "probe": "hpa_reaches",
        "namespace": namespace,
        "name": name,
        "target_replicas": target,
        "reached": reached,
        "seconds_to_reach": round(time.time() - start, 3) if reached else None,
        "history": history[-100:],
        **state,
        "ok": reached,
    }
