"""The platform pods as the API server has them: listed, then watched, in a thread of their own.

The pod runtime (`runtime.PodRuntime`) reads what this keeps and follows it with processes. A
terminating pod keeps the first deletion deadline seen (KWOK deletes a terminating pod at once);
a pod that vanished is kept, marked gone, while it still has a process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from aideon_resilience.adapters.dataplane.pod_env import ContainerEnv, container_env
from aideon_resilience.core.profiles import PROFILES
from aideon_resilience.core.selectors import SERVICE_LABEL

PART_OF_SELECTOR = "app.kubernetes.io/part-of=aideon"

log = logging.getLogger("aideon.dataplane.runtime")


@dataclass
class PodInfo:
    uid: str
    namespace: str
    name: str
    service: str
    phase: str
    deletion_at: float | None  # epoch seconds when the grace period ends
    ready: bool | None  # Ready condition as the API server has it
    node: str = ""
    gone: bool = False
    env: ContainerEnv = field(default_factory=ContainerEnv)
    labels: dict[str, str] = field(default_factory=dict)  # the pod's labels (a subset selects by them)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def pod_info(pod: Any) -> PodInfo | None:
    """The fields the runtime needs from a V1Pod; None for pods of no platform service."""
    md = pod.metadata
    service = (md.labels or {}).get(SERVICE_LABEL, "")
    if service not in PROFILES:
        return None
    deletion_at: float | None = None
    if md.deletion_timestamp is not None:
        deletion_at = md.deletion_timestamp.timestamp()
    ready: bool | None = None
    for c in (pod.status.conditions if pod.status else None) or []:
        if c.type == "Ready":
            ready = c.status == "True"
    return PodInfo(
        uid=md.uid,
        namespace=md.namespace,
        name=md.name,
        service=service,
        phase=(pod.status.phase if pod.status else None) or "Pending",
        deletion_at=deletion_at,
        ready=ready,
        node=(pod.spec.node_name if pod.spec else None) or "",
        env=container_env(pod),
        labels=dict(md.labels or {}),
    )


class PodWatcher:
    """The platform pods by uid, kept current by a list-then-watch thread.

    `keep_gone(uid)` says whether a pod that vanished from a relist is still needed (it still
    has a process); such pods stay, marked gone, until `forget_ended`.
    """

    def __init__(self, core: client.CoreV1Api, namespaces: list[str] | None, keep_gone: Callable[[str], bool]) -> None:
        self.core = core
        self.namespaces = set(namespaces) if namespaces else None
        self.keep_gone = keep_gone
        self.pods: dict[str, PodInfo] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.synced = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch_loop, name="pod-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def current(self) -> dict[str, PodInfo]:
        """A copy of the pods as last seen."""
        with self.lock:
            return dict(self.pods)

    def forget(self, uid: str) -> None:
        with self.lock:
            self.pods.pop(uid, None)

    def forget_ended(self, uid: str) -> None:
        """Drop a pod that is gone or terminating (its process has ended)."""
        with self.lock:
            p = self.pods.get(uid)
            if p is not None and (p.gone or p.deletion_at is not None):
                self.pods.pop(uid, None)

    def _wanted(self, info: PodInfo) -> bool:
        return self.namespaces is None or info.namespace in self.namespaces

    def _relist(self) -> str:
        pods = self.core.list_pod_for_all_namespaces(label_selector=PART_OF_SELECTOR, _request_timeout=30)
        fresh: dict[str, PodInfo] = {}
        for p in pods.items:
            info = pod_info(p)
            if info is not None and self._wanted(info):
                fresh[info.uid] = info
        with self.lock:
            for uid, old in self.pods.items():
                new = fresh.get(uid)
                if new is not None and old.deletion_at is not None and new.deletion_at is not None:
                    new.deletion_at = old.deletion_at
                if uid not in fresh:
                    old.gone = True
                    fresh[uid] = old
            self.pods = {uid: i for uid, i in fresh.items() if not (i.gone and not self.keep_gone(uid))}
        self.synced.set()
        return str(pods.metadata.resource_version)

    def _remember(self, info: PodInfo) -> None:
        """Record a pod's latest state, keeping the first deletion deadline seen.

        KWOK deletes a terminating pod at once with grace 0, which moves `deletionTimestamp` to
        now; the deadline the deleting client asked for is the one of the first event.
        """
        old = self.pods.get(info.uid)
        if old is not None and old.deletion_at is not None and info.deletion_at is not None:
            info.deletion_at = old.deletion_at
        self.pods[info.uid] = info

    def _watch_loop(self) -> None:
        rv = ""
        while not self.stopping.is_set():
            try:
                if not rv:
                    rv = self._relist()
                rv = self._follow(rv)
            except ApiException as exc:
                if exc.status == 410:
                    rv = ""
                    continue
                log.warning("pod watch failed: %s", exc.reason)
                rv = ""
                self.stopping.wait(1.0)
            except Exception as exc:  # network trouble: relist after a pause
                log.warning("pod watch failed: %s", exc)
                rv = ""
                self.stopping.wait(1.0)

    def _follow(self, rv: str) -> str:
        """One watch from resource version `rv`; returns where to go on ("" to relist)."""
        w = watch.Watch()
        for ev in w.stream(
            self.core.list_pod_for_all_namespaces,
            label_selector=PART_OF_SELECTOR,
            resource_version=rv,
            timeout_seconds=30,
            _request_timeout=40,
        ):
            if self.stopping.is_set():
                w.stop()
                break
            obj = ev["object"]
            if ev["type"] == "ERROR":
                return ""
            rv = obj.metadata.resource_version or rv
            info = pod_info(obj)
            if info is None or not self._wanted(info):
                continue
            if ev["type"] == "DELETED":
                info.gone = True
            with self.lock:
                self._remember(info)
        return rv
