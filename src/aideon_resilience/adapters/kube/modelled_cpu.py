"""Modelled CPU for pods that run nothing: the rehearsal's load reaches the HPAs through KWOK.

KWOK reports a pod's CPU usage from its `kwok.x-k8s.io/usage-cpu` annotation. For the current
modelled users, `core.loadmodel` gives each service's requests per second; this module shares
them over the service's ready pods (by the `app.kubernetes.io/name` label) and patches the
annotation of every pod whose figure moved by more than `min_change` (so a steady load costs the
API server nothing). Pods are followed with one watch, never repeated full lists.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client, watch

from aideon_resilience.core.conditions import is_ready
from aideon_resilience.core.plan.loadmodel import pod_cpu_millis, service_rps
from aideon_resilience.core.profiles import PROFILES
from aideon_resilience.core.selectors import SERVICE_LABEL

USAGE_CPU_ANNOTATION = "kwok.x-k8s.io/usage-cpu"


@dataclass
class _Pod:
    namespace: str
    name: str
    service: str
    ready: bool
    millis: int | None = None


@dataclass
class ModelledCpu:
    """Follows the platform's pods and sets their modelled CPU for a number of users."""

    api: client.ApiClient
    namespaces: frozenset[str] | None = None  # None: every namespace
    min_change: float = 0.05
    pods: dict[tuple[str, str], _Pod] = field(default_factory=dict)
    patches: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._core = client.CoreV1Api(self.api)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- following the pods --------------------------------------------------------------------
    def start(self) -> None:
        listed = self._core.list_pod_for_all_namespaces(label_selector=SERVICE_LABEL)
        for pod in listed.items:
            self._record("ADDED", pod)
        self._thread = threading.Thread(
            target=self._follow, args=(listed.metadata.resource_version,), daemon=True, name="modelled-cpu"
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _follow(self, resource_version: str | None) -> None:
        while not self._stop.is_set():
            w = watch.Watch()
            try:
                for event in w.stream(self._core.list_pod_for_all_namespaces, label_selector=SERVICE_LABEL,
                                      resource_version=resource_version, timeout_seconds=30):
                    resource_version = event["object"].metadata.resource_version
                    self._record(event["type"], event["object"])
                    if self._stop.is_set():
                        break
            except Exception as exc:  # a 410 or a dropped connection: list again
                if self._stop.is_set():
                    return  # stopping (the cluster may already be gone)
                self.errors.append(str(exc)[:200])
                try:
                    listed = self._core.list_pod_for_all_namespaces(label_selector=SERVICE_LABEL)
                except Exception as relist:  # the API server is away: try again after a pause
                    self.errors.append(str(relist)[:200])
                    self._stop.wait(2.0)
                    resource_version = None
                    continue
                with self._lock:
                    self.pods.clear()
                for pod in listed.items:
                    self._record("ADDED", pod)
                resource_version = listed.metadata.resource_version
            finally:
                w.stop()

    def _record(self, kind: str, pod: Any) -> None:
        service = (pod.metadata.labels or {}).get(SERVICE_LABEL)
        if service not in PROFILES or (self.namespaces is not None and pod.metadata.namespace not in self.namespaces):
            return
        key = (pod.metadata.namespace, pod.metadata.name)
        ready = pod.metadata.deletion_timestamp is None and is_ready(pod)
        with self._lock:
            if kind == "DELETED":
                self.pods.pop(key, None)
                return
            old = self.pods.get(key)
            millis = _annotated_millis(pod)
            self.pods[key] = _Pod(key[0], key[1], str(service), ready, millis if millis is not None else
                                  (old.millis if old else None))

    # -- setting the load ----------------------------------------------------------------------
    def ready_pods(self) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = defaultdict(int)
            for pod in self.pods.values():
                if pod.ready:
                    counts[pod.service] += 1
            return dict(counts)

    def apply(self, users: int, on_error: Callable[[str], None] | None = None) -> int:
        """Set every ready pod's CPU for `users`; returns the patches sent."""
        rps = service_rps(users)
        ready = self.ready_pods()
        with self._lock:
            pods = list(self.pods.values())
        sent = 0
        for pod in pods:
            if not pod.ready:
                continue
            want = pod_cpu_millis(pod.service, rps.get(pod.service, 0.0), ready.get(pod.service, 0))
            if pod.millis is not None and abs(want - pod.millis) <= self.min_change * max(pod.millis, 1):
                continue
            try:
                self._core.patch_namespaced_pod(
                    pod.name, pod.namespace, {"metadata": {"annotations": {USAGE_CPU_ANNOTATION: f"{want}m"}}}
                )
            except client.ApiException as exc:
                if exc.status != 404 and on_error is not None:
                    on_error(f"{pod.namespace}/{pod.name}: {exc.reason}")
                continue
            pod.millis = want
            sent += 1
        self.patches += sent
        return sent


def _annotated_millis(pod: Any) -> int | None:
    raw = (pod.metadata.annotations or {}).get(USAGE_CPU_ANNOTATION)
    if not raw:
        return None
    try:
        return int(raw[:-1]) if raw.endswith("m") else int(float(raw) * 1000)
    except ValueError:
        return None
