"""Shared pieces of the Locust benchmarks: a fast stand-in, a Locust process we can sample.

Every run is bounded (users, seconds) and talks to 127.0.0.1 only. CPU and memory are read from
the Locust process itself with psutil; request counts from Locust's own web API on loopback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from aideon_resilience.adapters.localhost import free_port
from aideon_resilience.adapters.standin.process import running_standin

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCUSTFILE = ROOT / "loadtests" / "gateway.py"
BARE = Path(__file__).resolve().parent / "bare_locustfile.py"
BARE_MIX = Path(__file__).resolve().parent / "bare_mix_locustfile.py"


@contextmanager
def fast_standin(service: str = "api-gateway") -> Iterator[tuple[str, psutil.Process]]:
    """A stand-in with no CPU burn and no added latency: the fast target of the benchmarks."""
    with running_standin(service, "--cpu-scale", "0", "--latency-scale", "0") as standin:
        yield standin.url, psutil.Process(standin.proc.pid)


@dataclass
class LocustRun:
    proc: subprocess.Popen[bytes]
    ps: psutil.Process
    web: str

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.web + "/stats/requests", timeout=20) as resp:
            data: dict[str, Any] = json.load(resp)
        return data

    def total_requests(self) -> int:
        for row in self.stats()["stats"]:
            if row["name"] == "Aggregated":
                return int(row["num_requests"])
        return 0

    def user_count(self) -> int:
        return int(self.stats().get("user_count", 0))

    def cpu_seconds(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def rss_bytes(self) -> int:
        return int(self.ps.memory_info().rss)


@contextmanager
def locust(
    locustfile: Path, host: str, users: int, spawn_rate: float, run_time_s: int, env: dict[str, str] | None = None
) -> Iterator[LocustRun]:
    """A single-process Locust run with its web API on loopback (autostart, bounded run time)."""
    port = free_port()
    cmd = [
        str(BIN / "locust"), "-f", str(locustfile), "--host", host,
        "--autostart", "--autoquit", "0", "-u", str(users), "-r", str(spawn_rate), "-t", f"{run_time_s}s",
        "--web-host", "127.0.0.1", "--web-port", str(port), "--only-summary", "--loglevel", "WARNING",
    ]
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = LocustRun(proc, psutil.Process(proc.pid), f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                run.stats()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"locust did not start: {' '.join(cmd)}") from None
                time.sleep(0.3)
        yield run
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_users(run: LocustRun, users: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while run.user_count() < users:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {run.user_count()} of {users} users spawned in {timeout_s:.0f}s")
        time.sleep(0.5)


def report(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    print(json.dumps({"benchmark": name, **figures}), flush=True)
    return figures
