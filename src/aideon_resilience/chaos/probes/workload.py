"""Workload readiness probes (Deployment or StatefulSet)."""

from __future__ import annotations

import time
from typing import Any

from aideon_resilience.chaos import guard, k8s

__all__ = ["wait_workload_ready", "workload_ready"]


def _state(obj: Any, min_ready: int | None) -> dict[str, Any]:
    desired = int(obj.spec.replicas or 0) if obj.spec else 0
    st = obj.status
    ready = int(getattr(st, "ready_replicas", None) or 0) if st else 0
    available = int(getattr(st, "available_replicas", None) or 0) if st else 0
    required = guard.opt_int(min_ready)
    want = desired if required is None else required
    return {
        "at": time.time(),
        "desired": desired,
        "ready": ready,
        "available": available,
        "required": want,
        "ok": ready >= want and want >= 0,
    }


def workload_ready(
    namespace: str,
    name: str,
    kind: str = "Deployment",
    min_ready: int | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Ready replicas are at least `min_ready` (default: all desired replicas)."""
    api = k8s.clients(secrets)
    state = _state(k8s.read_workload(api.apps, kind, namespace, name), min_ready)
    return {"probe": "workload_ready", "namespace": namespace, "name": name, "kind": kind, **state}


def wait_workload_ready(
    namespace: str,
    name: str,
    kind: str = "Deployment",
    min_ready: int | None = None,
    timeout: float = 120,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Wait up to `timeout` seconds for the workload to be ready; records how long it took."""
    api = k8s.clients(secrets)
    start = time.time()
    deadline = start + float(timeout)
    while True:
        state = _state(k8s.read_workload(api.apps, kind, namespace, name), min_ready)
        if state["ok"] or time.time() >= deadline:
            break
        time.sleep(1.0)
    return {
        "probe": "wait_workload_ready",
        "namespace": namespace,
        "name": name,
        "kind": kind,
        "waited_s": round(time.time() - start, 3),
        **state,
    }
