"""The Locust run that drives traffic through the whole chaos suite of a gate run.

A headless `locust` process (with local worker processes when the environment asks for them)
against the gateway, bounded in users and run time, writing its windowed statistics into the
run directory. Stopped with SIGINT so Locust writes its last window, then killed if it lingers.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from aideon_resilience.core.gateconfig import LoadConfig
from aideon_resilience.settings import settings


class LoadRun:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

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
    environ = settings().child_environment(
        {"AIDEON_ENV": env, "AIDEON_SHAPE": load.shape, "AIDEON_WINDOWS_FILE": str(windows_file)}
    )
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            locust_command(load, locustfile, gateway_url, windows_file, run_seconds),
            stdout=fh, stderr=subprocess.STDOUT, env=environ, start_new_session=True,
        )
    return LoadRun(proc, log)
