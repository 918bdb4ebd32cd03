"""Small helpers for tests against the local cluster: namespaces, workloads, waiting."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from kubernetes import client

T = TypeVar("T")


def wait_for(what: str, fn: Callable[[], T | None], timeout: float = 90, interval: float = 1) -> T:
    """Poll `fn` until it returns a truthy value; fail the test naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last value: {last!r})")


@contextmanager
def namespace(core: client.CoreV1Api, prefix: str, labels: dict[str, str] | None = None) -> Iterator[str]:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name, "labels": labels or {}}})
    try:
        yield name
    finally:
        core.delete_namespace(name, grace_period_seconds=0)


def deployment(
    name: str,
    replicas: int,
    *,
    cpu: str = "100m",
    affinity: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {
        "containers": [
            {
                "name": "app",
                "image": "registry.aideon.local/test/app:1",
                "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}},
            }
        ],
    }
    if affinity:
        pod_spec["affinity"] = affinity
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                "spec": pod_spec,
            },
        },
    }


def pods(core: client.CoreV1Api, ns: str, app: str) -> list[Any]:
    return list(core.list_namespaced_pod(ns, label_selector=f"app={app}").items)


def running(core: client.CoreV1Api, ns: str, app: str) -> list[Any]:
    return [
        p for p in pods(core, ns, app) if p.status.phase == "Running" and p.metadata.deletion_timestamp is None
    ]
