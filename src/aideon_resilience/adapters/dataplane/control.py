"""The local data plane from other processes: start the supervisor detached, read its state, stop it.

`stop_dataplane(paths)` and `dataplane_env_lines(paths)` are what `cluster down` and `cluster env`
call; `start_dataplane` is what `deploy --env local` calls (through `deploy.ensure_deployed`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

from aideon_resilience.adapters.dataplane.state import (
    STATE_NAME,
    DataPlaneOptions,
    DataPlaneState,
    default_workdir,
    read_state,
    supervisor_alive,
)
from aideon_resilience.adapters.localcluster.paths import ClusterPaths
from aideon_resilience.adapters.localhost import pid_alive
from aideon_resilience.adapters.standin.process import harness_command
from aideon_resilience.errors import InfrastructureError
from aideon_resilience.settings import settings


def dataplane_state(paths: ClusterPaths, workdir: Path | None = None) -> DataPlaneState | None:
    """The running data plane's state, or None when none runs."""
    state = read_state(workdir or default_workdir(paths))
    if state is None or not supervisor_alive(state.pid):
        return None
    return state


def start_dataplane(
    paths: ClusterPaths,
    options: DataPlaneOptions | None = None,
    workdir: Path | None = None,
    timeout: float = 90.0,
) -> DataPlaneState:
    """Start the supervisor detached (or reuse a running one) and wait until it serves."""
    workdir = workdir or default_workdir(paths)
    running = dataplane_state(paths, workdir)
    if running is not None and running.status == "running":
        return running
    if running is not None:
        stop_dataplane(paths, workdir)
    options = options or DataPlaneOptions()
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (workdir / STATE_NAME).unlink()
    env = settings().child_environment()
    if paths.root is not None:
        env["AIDEON_CACHE_DIR"] = str(paths.root)
    cmd = [*harness_command(), "dataplane", "run", "--workdir", str(workdir), *options.to_args()]
    log_path = workdir / "supervisor.log"
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or [""]
            raise InfrastructureError(f"the local data plane exited at start: {tail[0][:300]} (see {log_path})")
        state = read_state(workdir)
        if state is not None and state.pid == proc.pid and state.status == "running":
            return state
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    raise InfrastructureError(f"the local data plane did not start within {timeout:.0f}s (see {log_path})")


_OURS = ("standin", "haproxy", "prometheus", "dataplane")


def _group_members(pgid: int) -> list[psutil.Process]:
    """Processes of the supervisor's process group that are ours (stand-ins, proxy, Prometheus)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if os.getpgid(proc.pid) != pgid or proc.status() == psutil.STATUS_ZOMBIE:
                continue
        except (OSError, psutil.Error):
            continue
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if any(word in cmdline for word in _OURS):
            found.append(proc)
    return found


def stop_dataplane(paths: ClusterPaths, workdir: Path | None = None, timeout: float = 20.0) -> None:
    """Stop the data plane and every process it started; no-op when none runs.

    SIGTERM to the supervisor (which stops its children), then SIGKILL to whatever of its
    process group or of the recorded pids is still there.
    """
    workdir = workdir or default_workdir(paths)
    state = read_state(workdir)
    if state is None:
        return
    if supervisor_alive(state.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while supervisor_alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    left = {p.pid: p for p in _group_members(state.pid)}
    for pid in state.pids():
        if pid not in left and pid_alive(pid):
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if any(word in " ".join(proc.cmdline()) for word in _OURS):
                    left[pid] = proc
    for proc in left.values():
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(list(left.values()), timeout=5)
    with contextlib.suppress(FileNotFoundError):
        (workdir / STATE_NAME).unlink()


def dataplane_env_lines(paths: ClusterPaths, workdir: Path | None = None) -> list[str]:
    """`export AIDEON_GATEWAY_URL=...` (and Prometheus) when a data plane runs; else nothing."""
    state = dataplane_state(paths, workdir)
    if state is None or not state.gateway_url:
        return []
    lines = [f"export AIDEON_GATEWAY_URL={state.gateway_url}"]
    if state.prometheus_url:
        lines.append(f"export AIDEON_PROMETHEUS_URL={state.prometheus_url}")
    return lines
