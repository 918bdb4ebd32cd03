"""The stand-in processes of the pod runtime: start, probe, restart after a back-off, stop.

One `Instance` per pod that should run (keyed by pod uid). Processes stay in the supervisor's
process group, so stopping the group leaves nothing behind. Which pods should run is decided by
`runtime.PodRuntime` from what `pod_watch.PodWatcher` sees.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aideon_resilience.adapters.dataplane.pod_watch import PodInfo
from aideon_resilience.adapters.standin.process import harness_command
from aideon_resilience.settings import settings

LOOPBACK = "127.0.0.1"
PROBE_TIMEOUT_S = 0.5
KILL_AFTER_TERM_S = 3.0
RESTART_BACKOFF_S = 1.0

log = logging.getLogger("aideon.dataplane.runtime")


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
    env: dict[str, str] = field(default_factory=dict)  # the pod's container environment (pod_env)

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


def listening_port(log_path: Path) -> int | None:
    """The port a stand-in printed it listens on (`standin ... listening on http://HOST:PORT`)."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if " listening on http://" in line:
                    return int(line.rsplit(":", 1)[1].strip().rstrip("/"))
    except (OSError, ValueError):
        return None
    return None


class StandinProcesses:
    """The stand-in process of each pod that runs, by pod uid."""

    def __init__(self, logs: Path, standin_env: dict[str, str], standin_args: list[str]) -> None:
        self.logs = logs
        self.standin_env = standin_env
        self.standin_args = standin_args
        self.instances: dict[str, Instance] = {}
        self._probe_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="probe")

    def start_for(self, uid: str, info: PodInfo, env: dict[str, str] | None = None) -> Instance:
        inst = Instance(info, None, self.logs / f"{info.namespace}_{info.name}.log", env=dict(env or {}))
        self.spawn(inst)
        self.instances[uid] = inst
        return inst

    def spawn(self, inst: Instance) -> None:
        svc = inst.pod.service
        env = settings().child_environment()
        env.update(inst.env)
        env.update(self.standin_env)
        env["AIDEON_POD_NAME"] = inst.pod.name
        env["AIDEON_POD_NAMESPACE"] = inst.pod.namespace
        cmd = [*harness_command(), "standin", svc, "--port", "0", "--host", LOOPBACK, *self.standin_args]
        inst.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(inst.log_path, "wb") as out:
            # Same process group as the supervisor: stopping the group leaves nothing behind.
            inst.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        inst.port = None
        inst.ready = False
        inst.started = time.time()
        log.info("started stand-in of %s (%s) pid %s", inst.pod.key, svc, inst.proc.pid)

    def terminate(self, inst: Instance, now: float) -> None:
        if inst.alive and inst.kill_at is None:
            assert inst.proc is not None
            with contextlib.suppress(ProcessLookupError):
                inst.proc.send_signal(signal.SIGTERM)
            inst.kill_at = now + KILL_AFTER_TERM_S
        elif inst.alive and inst.kill_at is not None and now >= inst.kill_at:
            assert inst.proc is not None
            with contextlib.suppress(ProcessLookupError):
                inst.proc.kill()

    def reap(self, uid: str, inst: Instance, now: float) -> bool:
        """A stopping instance: signal it once its time has come; True (and dropped) once it ended."""
        assert inst.stop_at is not None
        if now >= inst.stop_at:
            self.terminate(inst, now)
        if inst.alive:
            return False
        if inst.proc is not None:
            inst.proc.wait()
        del self.instances[uid]
        return True

    def restart_when_due(self, inst: Instance, now: float) -> None:
        """A process that exited while its pod should run: restarted after a growing back-off."""
        inst.ready = False
        if inst.restart_at is None:
            inst.restart_at = now + RESTART_BACKOFF_S * min(8, 2**inst.restarts)
        elif now >= inst.restart_at:
            inst.restarts += 1
            inst.restart_at = None
            self.spawn(inst)

    def probe_all(self) -> None:
        targets = [i for i in self.instances.values() if i.alive and i.port is not None and i.stop_at is None]
        results = list(self._probe_pool.map(lambda i: probe_ready(i.port or 0), targets))
        for inst, ok in zip(targets, results, strict=True):
            inst.ready = ok

    def snapshot(self) -> list[dict[str, Any]]:
        return [i.to_dict() for i in self.instances.values()]

    def stop(self, timeout: float) -> None:
        """End every process (SIGTERM, SIGKILL after `timeout`)."""
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
