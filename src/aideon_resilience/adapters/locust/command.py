"""The command line of a headless Locust run: the gate's load and the chaos extension's surge
start Locust the same way (this interpreter, the locustfile, loopback host, bounded users and
run time)."""

from __future__ import annotations

import sys
from pathlib import Path


def python_locust(locustfile: Path | str) -> list[str]:
    """Locust of this interpreter with a locustfile (also what a worker runs)."""
    return [sys.executable, "-m", "locust", "-f", str(locustfile)]


def headless_command(locustfile: Path | str, host: str, users: int, spawn_rate: float, run_seconds: int,
                     *extra: str) -> list[str]:
    """A bounded headless run against `host`, printing only its summary."""
    return [
        *python_locust(locustfile), "--headless", "--host", host.rstrip("/"),
        "--users", str(users), "--spawn-rate", f"{spawn_rate:g}", "--run-time", f"{max(1, run_seconds)}s",
        "--only-summary", *extra,
    ]  # fmt: skip
