"""Undo steps for processes a run starts (Locust runs, chaos runs): stopped by `rollback` if their
starter was killed outright.

The step is recorded before the process starts; its pid (and start time, so a reused pid is never
signalled) goes to a pid file right after. `done()` marks the step done once the starter stopped
the process itself. A process started as a group leader (`group=True`) is stopped with its whole
process group (a Locust master and its workers). Stopping sends SIGTERM, then SIGKILL after a
grace period: a chaos run's safety control turns SIGTERM into an interrupt, so its own rollbacks
run first.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from aideon_resilience.chaos import undo

KIND = "stop_process"


@dataclass
class ProcessUndo:
    step: undo.Step
    pidfile: Path

    @classmethod
    def record(cls, log: undo.UndoLog, name: str, description: str) -> ProcessUndo:
        """Persist the step (before the process starts)."""
        log.directory.mkdir(parents=True, exist_ok=True)
        pidfile = log.directory / f"{name}-{time.time_ns()}.pid.json"
        return cls(log.record(KIND, {"pidfile": str(pidfile)}, description), pidfile)

    def started(self, pid: int, group: bool = False) -> None:
        info = {"pid": pid, "create_time": psutil.Process(pid).create_time(), "group": group}
        self.pidfile.write_text(json.dumps(info), encoding="utf-8")

    def done(self) -> None:
        undo.mark_done(self.step)


@undo.register(KIND, "pidfile")
def stop_recorded(params: dict[str, Any], data: dict[str, Any]) -> None:
    pidfile = Path(str(params["pidfile"]))
    if not pidfile.is_file():
        return  # the process never started
    info = json.loads(pidfile.read_text(encoding="utf-8"))
    stop(int(info["pid"]), float(info["create_time"]), group=bool(info.get("group")))


def stop(pid: int, create_time: float, grace: float = 10.0, group: bool = False) -> bool:
    """SIGTERM, then SIGKILL after `grace`, to `pid` (and, with `group`, every process of the group
    it leads that started after it); False when nothing of it was left or the pid is not ours."""
    targets: list[psutil.Process] = []
    try:
        leader = psutil.Process(pid)
        if abs(leader.create_time() - create_time) <= 1.0:
            targets.append(leader)
    except psutil.NoSuchProcess:
        pass
    if group:
        targets += [p for p in _group(pid, create_time) if p.pid != pid]
    if not targets:
        return False
    for proc in targets:
        _send(proc, signal.SIGTERM)
    _, alive = psutil.wait_procs(targets, timeout=grace)
    for proc in alive:
        _send(proc, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=5)
    return True


def _group(pgid: int, since: float) -> list[psutil.Process]:
    """The processes of process group `pgid` started no earlier than its leader (not a reused id)."""
    members: list[psutil.Process] = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.create_time() >= since - 1.0:
                members.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return members


def _send(proc: psutil.Process, sig: int) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.send_signal(sig)
