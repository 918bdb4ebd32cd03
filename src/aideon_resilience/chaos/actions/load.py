"""Bounded Locust runs against a loopback gateway: base load for an experiment and surges.

Each run is a headless ``locust`` subprocess with a user count and a run time capped by
``AIDEON_CHAOS_MAX_USERS`` (default 500) and ``AIDEON_CHAOS_MAX_LOAD_SECONDS`` (default 900).
The undo step (stop the process) is recorded before the process starts; its pid is written
to a pid file next to the undo log right after the start.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ActivityFailed

from aideon_resilience.adapters.locust.command import headless_command
from aideon_resilience.chaos import guard, undo
from aideon_resilience.chaos.processes import ProcessUndo, stop_recorded
from aideon_resilience.errors import UsageError
from aideon_resilience.settings import settings

__all__ = ["start_load", "start_surge", "stop_load"]


def _int_env(var: str) -> int:
    try:
        return settings().int_value(var)
    except UsageError as exc:
        raise ActivityFailed(exc.message) from None


def _bounded(value: Any, what: str, limit: int) -> int:
    try:
        n = int(float(value))
    except (TypeError, ValueError):
        raise ActivityFailed(f"{what}: not a number: {value!r}") from None
    if n < 1:
        raise ActivityFailed(f"{what} must be at least 1, got {value!r}")
    if n > limit:
        raise ActivityFailed(f"{what} {n} is above the limit {limit}")
    return n


def start_load(
    gateway_url: str,
    users: int = 50,
    spawn_rate: float = 10,
    duration: int = 120,
    locustfile: str | None = None,
    windows_file: str | None = None,
    purpose: str = "load",
    think_time: str | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    """Start a bounded headless Locust run against `gateway_url` (loopback only).

    `think_time` ("MIN,MAX" seconds) overrides the locustfile's think time for this run: a surge
    of impatient users hits harder than the same number of readers. The kube context must be
    allow-listed (a loopback gateway may be a port-forward into any cluster) and `namespace` (the
    gateway's) must have opted in to chaos.
    """
    guard.require_target("start_load", gateway_url=gateway_url)
    guard.require_loopback(gateway_url, "gateway URL")
    n_users = _bounded(users, "users", _int_env("AIDEON_CHAOS_MAX_USERS"))
    seconds = _bounded(duration, "duration", _int_env("AIDEON_CHAOS_MAX_LOAD_SECONDS"))
    rate = float(spawn_rate)
    lf = locustfile or settings().str_value("AIDEON_LOCUSTFILE")
    if not Path(lf).is_file():
        raise ActivityFailed(f"locustfile {lf} not found (set AIDEON_LOCUSTFILE)")
    guard.authorize(f"start_{purpose}", None, [namespace])
    process_undo = ProcessUndo.record(undo.current(), f"locust-{purpose}", f"stop Locust {purpose} run")
    outfile = process_undo.pidfile.with_suffix(".log")
    env = settings().child_environment()
    windows = windows_file or settings().text("AIDEON_WINDOWS_FILE")
    if windows and not windows_file and purpose != "load":
        # a surge records its own windows: the base load's file keeps measuring the clients
        base = Path(windows)
        windows = str(base.with_name(f"{base.stem}.{purpose}{base.suffix or '.jsonl'}"))
    if windows:
        env["AIDEON_WINDOWS_FILE"] = str(windows)
    if think_time:
        env["AIDEON_THINK_TIME"] = str(think_time)
    cmd = headless_command(lf, gateway_url, n_users, rate, seconds, "--exit-code-on-error", "0")
    with outfile.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    process_undo.started(proc.pid)
    return {
        "action": f"start_{purpose}",
        "pid": proc.pid,
        "users": n_users,
        "spawn_rate": rate,
        "duration_s": seconds,
        "gateway_url": gateway_url,
        "locustfile": lf,
        "windows_file": windows,
        "think_time": think_time,
        "log": str(outfile),
        "undo_step": str(process_undo.step.path),
        "at": time.time(),
    }


def start_surge(
    gateway_url: str,
    users: int = 200,
    spawn_rate: float = 50,
    duration: int = 60,
    locustfile: str | None = None,
    windows_file: str | None = None,
    think_time: str | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    """A load surge: an extra bounded Locust run on top of the experiment's base load."""
    return start_load(gateway_url, users, spawn_rate, duration, locustfile, windows_file, purpose="surge",
                      think_time=think_time or None, namespace=namespace)


def stop_load() -> dict[str, Any]:
    """Stop every Locust run this chaos run started."""
    stopped: list[str] = []
    for step in undo.current().pending("stop_process"):
        stop_recorded(step.params, step.data)
        undo.mark_done(step)
        stopped.append(str(step.params["pidfile"]))
    return {"action": "stop_load", "stopped": stopped, "at": time.time()}
