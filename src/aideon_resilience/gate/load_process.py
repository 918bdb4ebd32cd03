"""The Locust run that drives traffic through the whole chaos suite of a gate run.

A headless `locust` process (with local worker processes when the environment asks for them)
against the gateway, bounded in users and run time, writing its windowed statistics into the
run directory. Stopped with SIGINT so Locust writes its last window, then killed if it lingers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from aideon_resilience.core.gateconfig import LoadConfig
from aideon_resilience.gate.load_handle import LoadRequest
from aideon_resilience.gate.options import Progress


class LoadRun:
    """A running Locust process (a `LoadHandle` of the gate's targets)."""

    modelled = False

    def __init__(self, process: subprocess.Popen[bytes], log: Path, users: int = 0, warmup_s: float = 0,
                 env: dict[str, str] | None = None) -> None:
        self.process = process
        self.log = log
        self.users = users
        self.warmup_s = warmup_s
        self.env = env or {}

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return int(self.process.returncode or 0)


def locust_command(
    load: LoadConfig,
    locustfile: Path,
    gateway_url: str,
    windows_file: Path,
    run_seconds: int,
) -> list[str]:
    cmd = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "--host", gateway_url,
        "--users", str(load.users), "--spawn-rate", f"{load.spawn_rate:g}",
        "--run-time", f"{max(1, run_seconds)}s", "--stop-timeout", "5",
        "--windows-file", str(windows_file), "--only-summary",
    ]
    if load.workers:
        cmd += ["--processes", str(load.workers)]
    return cmd


def start_load(
    load: LoadConfig,
    locustfile: Path,
    gateway_url: str,
    run_dir: Path,
    windows_file: Path,
    run_seconds: int,
    env: str,
) -> LoadRun:
    log = run_dir / "locust.log"
    environ = dict(os.environ, AIDEON_ENV=env, AIDEON_SHAPE=load.shape, AIDEON_WINDOWS_FILE=str(windows_file))
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            locust_command(load, locustfile, gateway_url, windows_file, run_seconds),
            stdout=fh, stderr=subprocess.STDOUT, env=environ, start_new_session=True,
        )
    return LoadRun(proc, log, load.users, load.warmup_seconds)


def start_locust(request: LoadRequest, progress: Progress) -> LoadRun | None:
    """The gate's Locust load against the target's gateway (None without a gateway or load)."""
    cfg, url = request.config, request.gateway_url
    if not cfg.enabled:
        return None
    if not url:
        progress("load: no gateway URL, the suite runs without client traffic")
        return None
    progress(f"load: {cfg.users} users against {url} (bounded to {request.bound_s}s)")
    run = start_load(cfg, request.locustfile, url, request.run_dir, request.windows_file, request.bound_s,
                     request.env)
    run.env = {
        "AIDEON_GATEWAY_URL": url,
        "AIDEON_WINDOWS_FILE": str(request.windows_file),
        "AIDEON_LOAD_EXTERNAL": "1",  # the gate runs the load; experiments only read it
    }
    return run
