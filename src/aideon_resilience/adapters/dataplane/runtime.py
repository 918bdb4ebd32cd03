"""Pod runtime of the local data plane: a stand-in process for each Running pod of a platform service.

KWOK pods run nothing. The runtime watches pods labelled `app.kubernetes.io/part-of: aideon`
(kubernetes watch API) and, for each Running pod whose `app.kubernetes.io/name` is a platform
service, starts `aideon-resilience standin <service> --port 0 --host 127.0.0.1` (the process picks
a free loopback port and prints it). Kubernetes creates and deletes pods; the runtime only follows:

- pod deleted or evicted: taken out of the proxy at once; the process is stopped when the pod's
  grace period ends (`metadata.deletionTimestamp`), i.e. at once for a forced delete
  (`--grace-period=0`). KWOK removes a terminating pod object immediately (its `pod-delete`
  stage has no delay), so the runtime keeps the deadline it saw, not the object.
- the process's loopback port is written on its pod as the annotation `aideon.io/standin-port`
  (and in the data plane's state file), so chaos actions can reach a given pod's process.
- pod Failed/Succeeded, or a pod that vanished without a deletion timestamp: stopped at once.
- a process that exits while its pod should run is restarted after a short back-off, like a
  kubelet restarting a container.
- a pod on a node that is not Ready (node loss, see `localcluster.nodes`) keeps its process, as a
  container on a partitioned node keeps running, but gets no traffic from the proxy, and the
  runtime leaves its readiness to the node lifecycle controller (which marks it NotReady).

Readiness: KWOK's `pod-ready` stage sets Ready=True once, when it moves a Pending pod to Running,
and never touches a Running pod's conditions again. The runtime probes each process's `/ready`
(0.5 s timeout) every tick and patches the pod's `Ready` and `ContainersReady` conditions through
the status subresource whenever they disagree with the probe: a new pod is Ready=False until its
process answers, and a process that stops answering turns its pod NotReady (and out of the
Service's endpoints and the proxy) until it answers again.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from aideon_resilience.core.profiles import PROFILES
from aideon_resilience.settings import settings

LOOPBACK = "127.0.0.1"
PART_OF_SELECTOR = "app.kubernetes.io/part-of=aideon"
NAME_LABEL = "app.kubernetes.io/name"
PROBE_TIMEOUT_S = 0.5
KILL_AFTER_TERM_S = 3.0
RESTART_BACKOFF_S = 1.0
NODE_REFRESH_S = 1.0
PORT_ANNOTATION = "aideon.io/standin-port"

log = logging.getLogger("aideon.dataplane.runtime")


def standin_command() -> list[str]:
    """How to run `aideon-resilience` from the interpreter running us."""
    script = Path(sys.executable).parent / "aideon-resilience"
    if script.is_file():
        return [str(script)]
    found = shutil.which("aideon-resilience")
    if found:
        return [found]
    return [sys.executable, "-c", "from aideon_resilience.cli.main import main; main()"]


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

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def pod_info(pod: Any) -> PodInfo | None:
    """The fields the runtime needs from a V1Pod; None for pods of no platform service."""
    md = pod.metadata
    service = (md.labels or {}).get(NAME_LABEL, "")
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
    )


@dataclass
class Instance:
    """The stand-in process of one pod."""

    pod: PodInfo
    proc: subprocess.Popen[bytes] | None
    log_path: Path
    port: int | None = None
    ready: bool = False
    stop_at: float | None = None  # when to send SIGTERM
    kill_at: float | None = None  # when to send SIGKILL
    restart_at: float | None = None
    restarts: int = 0
    node_ready: bool = True
    started: float = field(default_factory=time.time)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def routable(self) -> bool:
        return self.alive and self.ready and self.node_ready and self.port is not None and self.stop_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.pod.namespace,
            "pod": self.pod.name,
            "service": self.pod.service,
            "pid": self.pid,
            "port": self.port,
            "ready": self.ready,
            "terminating": self.stop_at is not None,
            "node": self.pod.node,
            "node_ready": self.node_ready,
            "restarts": self.restarts,
        }


def probe_ready(port: int, timeout: float = PROBE_TIMEOUT_S) -> bool:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("GET", "/ready")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _listening_port(log_path: Path) -> int | None:
    try:
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if " listening on http://" in line:
                    return int(line.rsplit(":", 1)[1].strip().rstrip("/"))
    except (OSError, ValueError):
        return None
    return None


class PodRuntime:
    """Follows the cluster's platform pods with stand-in processes (see module docstring)."""

    def __init__(
        self,
        core: client.CoreV1Api,
        workdir: Path,
        upstream_env: dict[str, str] | None = None,
        namespaces: list[str] | None = None,
        standin_args: list[str] | None = None,
    ) -> None:
        self.core = core
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.upstream_env = dict(upstream_env or {})
        self.namespaces = set(namespaces) if namespaces else None
        self.standin_args = list(standin_args or [])
        self.pods: dict[str, PodInfo] = {}
        self.instances: dict[str, Instance] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.synced = threading.Event()
        self._watcher: threading.Thread | None = None
        self._probe_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="probe")
        self.nodes_ready: dict[str, bool] = {}
        self._nodes_at = 0.0

    # -- watching -------------------------------------------------------------------------------
    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self._watcher = threading.Thread(target=self._watch_loop, name="pod-watch", daemon=True)
        self._watcher.start()

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
            self.pods = {uid: i for uid, i in fresh.items() if not (i.gone and uid not in self.instances)}
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
                        rv = ""
                        break
                    rv = obj.metadata.resource_version or rv
                    info = pod_info(obj)
                    if info is None or not self._wanted(info):
                        continue
                    if ev["type"] == "DELETED":
                        info.gone = True
                    with self.lock:
                        self._remember(info)
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

    # -- processes ------------------------------------------------------------------------------
    def _spawn(self, inst: Instance) -> None:
        svc = inst.pod.service
        env = settings().child_environment()
        env.update(self.upstream_env)
        env["AIDEON_POD_NAME"] = inst.pod.name
        env["AIDEON_POD_NAMESPACE"] = inst.pod.namespace
        cmd = [*standin_command(), "standin", svc, "--port", "0", "--host", LOOPBACK, *self.standin_args]
        inst.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(inst.log_path, "wb") as out:
            # Same process group as the supervisor: stopping the group leaves nothing behind.
            inst.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        inst.port = None
        inst.ready = False
        inst.started = time.time()
        log.info("started stand-in of %s (%s) pid %s", inst.pod.key, svc, inst.proc.pid)

    def _terminate(self, inst: Instance, now: float) -> None:
        if inst.alive and inst.kill_at is None:
            assert inst.proc is not None
            with contextlib.suppress(ProcessLookupError):
                inst.proc.send_signal(signal.SIGTERM)
            inst.kill_at = now + KILL_AFTER_TERM_S
        elif inst.alive and inst.kill_at is not None and now >= inst.kill_at:
            assert inst.proc is not None
            with contextlib.suppress(ProcessLookupError):
                inst.proc.kill()

    def reconcile(self) -> dict[str, list[tuple[str, int]]]:
        """One tick: start/stop processes, probe readiness, patch pods; returns routable backends."""
        now = time.time()
        with self.lock:
            pods = dict(self.pods)
        for uid, info in pods.items():
            inst = self.instances.get(uid)
            runnable = info.phase == "Running" and info.deletion_at is None and not info.gone
            if inst is None:
                if runnable:
                    inst = Instance(info, None, self.logs / f"{info.namespace}_{info.name}.log")
                    self._spawn(inst)
                    self.instances[uid] = inst
                elif info.gone:
                    with self.lock:
                        self.pods.pop(uid, None)
                continue
            inst.pod = info
            if not runnable and inst.stop_at is None:
                if info.deletion_at is not None:
                    inst.stop_at = min(info.deletion_at, now + 3600)
                else:  # Failed/Succeeded or gone without a deletion timestamp
                    inst.stop_at = now
                log.info("pod %s terminating: stand-in stops in %.1fs", info.key, max(0.0, inst.stop_at - now))
        for uid, inst in list(self.instances.items()):
            if uid not in pods:
                inst.stop_at = inst.stop_at or now
            if inst.stop_at is not None:
                if now >= inst.stop_at:
                    self._terminate(inst, now)
                if not inst.alive:
                    if inst.proc is not None:
                        inst.proc.wait()
                    del self.instances[uid]
                    with self.lock:
                        p = self.pods.get(uid)
                        if p is not None and (p.gone or p.deletion_at is not None):
                            self.pods.pop(uid, None)
                continue
            if not inst.alive:
                inst.ready = False
                if inst.restart_at is None:
                    inst.restart_at = now + RESTART_BACKOFF_S * min(8, 2**inst.restarts)
                elif now >= inst.restart_at:
                    inst.restarts += 1
                    inst.restart_at = None
                    self._spawn(inst)
                continue
            if inst.port is None:
                inst.port = _listening_port(inst.log_path)
                if inst.port is not None:
                    self._annotate_port(inst)
        self._refresh_nodes()
        for inst in self.instances.values():
            inst.node_ready = self.nodes_ready.get(inst.pod.node, True)
        self._probe_all()
        self._sync_pod_readiness()
        backends: dict[str, list[tuple[str, int]]] = {}
        for inst in self.instances.values():
            if inst.routable:
                assert inst.port is not None
                backends.setdefault(inst.pod.service, []).append((LOOPBACK, inst.port))
        for addrs in backends.values():
            addrs.sort()
        return backends

    def _refresh_nodes(self) -> None:
        """Ready condition of every node, at most every NODE_REFRESH_S."""
        if time.monotonic() - self._nodes_at < NODE_REFRESH_S:
            return
        try:
            nodes = self.core.list_node(_request_timeout=5).items
        except Exception as exc:  # keep the last view; try again next tick
            log.warning("could not list nodes: %s", exc)
            return
        self._nodes_at = time.monotonic()
        self.nodes_ready = {
            n.metadata.name: any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))
            for n in nodes
        }

    def _annotate_port(self, inst: Instance) -> None:
        """Record the process's loopback port on its pod (`aideon.io/standin-port`) for other tools."""
        try:
            self.core.patch_namespaced_pod(
                inst.pod.name,
                inst.pod.namespace,
                {"metadata": {"annotations": {PORT_ANNOTATION: str(inst.port)}}},
                _request_timeout=5,
            )
        except Exception as exc:  # informative only
            log.warning("could not annotate %s with its port: %s", inst.pod.key, exc)

    def _probe_all(self) -> None:
        targets = [i for i in self.instances.values() if i.alive and i.port is not None and i.stop_at is None]
        results = list(self._probe_pool.map(lambda i: probe_ready(i.port or 0), targets))
        for inst, ok in zip(targets, results, strict=True):
            inst.ready = ok

    def _sync_pod_readiness(self) -> None:
        for inst in self.instances.values():
            if inst.stop_at is not None or inst.pod.gone or not inst.node_ready:
                # On a NotReady node the node lifecycle controller owns the pods' readiness: a
                # kubelet that lost its node cannot report.
                continue
            want = inst.ready
            if inst.pod.ready == want:
                continue
            status = "True" if want else "False"
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            reason = None if want else "StandinNotReady"
            conds = [
                {"type": t, "status": status, "lastTransitionTime": stamp, "reason": reason}
                for t in ("Ready", "ContainersReady")
            ]
            try:
                self.core.patch_namespaced_pod_status(
                    inst.pod.name, inst.pod.namespace, {"status": {"conditions": conds}}, _request_timeout=5
                )
                inst.pod.ready = want
            except ApiException as exc:
                if exc.status != 404:
                    log.warning("could not patch readiness of %s: %s", inst.pod.key, exc.reason)

    def snapshot(self) -> list[dict[str, Any]]:
        return [i.to_dict() for i in self.instances.values()]

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching and end every process (SIGTERM, SIGKILL after `timeout`)."""
        self.stopping.set()
        for inst in self.instances.values():
            if inst.alive:
                assert inst.proc is not None
                with contextlib.suppress(ProcessLookupError):
                    inst.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for inst in self.instances.values():
            if inst.proc is None:
                continue
            try:
                inst.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                inst.proc.kill()
                inst.proc.wait()
        self.instances.clear()
        self._probe_pool.shutdown(wait=False)
