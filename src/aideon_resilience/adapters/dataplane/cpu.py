"""CPU feedback: each stand-in process's measured CPU becomes its pod's usage in metrics.k8s.io.

KWOK's metrics (`Metric`/`ClusterResourceUsage` of the local cluster) report a pod's CPU usage
from the annotation `kwok.x-k8s.io/usage-cpu` (default 1m). Every few seconds this module
measures each process's CPU time with psutil (user + system, the process and its children),
turns the rate since the previous sample into millicores and patches the annotation when it
moved (the resident memory goes to `kwok.x-k8s.io/usage-memory` along with it).
metrics-server scrapes KWOK every 15 s and the HPA controller syncs every 5 s, so a load
change reaches `kubectl top pods` and the HPA within about 20 s.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import psutil
from kubernetes import client
from kubernetes.client.exceptions import ApiException

USAGE_CPU_ANNOTATION = "kwok.x-k8s.io/usage-cpu"
USAGE_MEMORY_ANNOTATION = "kwok.x-k8s.io/usage-memory"
MIN_MILLICORES = 1

log = logging.getLogger("aideon.dataplane.cpu")


def millicores(cpu_seconds_delta: float, wall_seconds: float) -> int:
    """CPU rate as whole millicores (at least 1m, like KWOK's default)."""
    if wall_seconds <= 0:
        return MIN_MILLICORES
    return max(MIN_MILLICORES, round(cpu_seconds_delta / wall_seconds * 1000))


def quantity(m: int) -> str:
    return f"{m}m"


def should_patch(previous: int | None, current: int) -> bool:
    """Patch when the value moved by at least 5m and 5 % (avoids churn on idle noise)."""
    if previous is None:
        return True
    delta = abs(current - previous)
    return delta >= 5 and delta >= 0.05 * max(previous, 1)


@dataclass
class _Sample:
    cpu: float
    at: float


def process_rss_mib(pid: int) -> int | None:
    try:
        return max(1, round(psutil.Process(pid).memory_info().rss / (1024 * 1024)))
    except psutil.Error:
        return None


def process_cpu_seconds(pid: int) -> float | None:
    try:
        proc = psutil.Process(pid)
        total = sum(proc.cpu_times()[:2])
        for child in proc.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.Error:
                continue
        return float(total)
    except psutil.Error:
        return None


class CpuFeedback:
    """Measure-and-patch loop state: call `tick(targets)` every `period` seconds."""

    def __init__(self, core: client.CoreV1Api, period: float = 3.0) -> None:
        self.core = core
        self.period = period
        self.samples: dict[int, _Sample] = {}
        self.reported: dict[tuple[str, str], int] = {}
        self.last_tick = 0.0

    def due(self, now: float | None = None) -> bool:
        return (now if now is not None else time.monotonic()) - self.last_tick >= self.period

    def tick(self, targets: list[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
        """`targets`: (namespace, pod, pid) of live processes; returns the millicores measured."""
        self.last_tick = time.monotonic()
        measured: dict[tuple[str, str], int] = {}
        live_pids = set()
        for namespace, pod, pid in targets:
            live_pids.add(pid)
            cpu = process_cpu_seconds(pid)
            now = time.monotonic()
            if cpu is None:
                continue
            prev = self.samples.get(pid)
            self.samples[pid] = _Sample(cpu, now)
            if prev is None:
                continue
            m = millicores(cpu - prev.cpu, now - prev.at)
            key = (namespace, pod)
            measured[key] = m
            if not should_patch(self.reported.get(key), m):
                continue
            annotations = {USAGE_CPU_ANNOTATION: quantity(m)}
            rss = process_rss_mib(pid)
            if rss is not None:
                annotations[USAGE_MEMORY_ANNOTATION] = f"{rss}Mi"
            try:
                self.core.patch_namespaced_pod(
                    pod, namespace, {"metadata": {"annotations": annotations}}, _request_timeout=5
                )
                self.reported[key] = m
            except ApiException as exc:
                if exc.status != 404:
                    log.warning("could not report CPU of %s/%s: %s", namespace, pod, exc.reason)
        for pid in list(self.samples):
            if pid not in live_pids:
                del self.samples[pid]
        keys = {(ns, pod) for ns, pod, _ in targets}
        for key in list(self.reported):
            if key not in keys:
                del self.reported[key]
        return measured
