"""Fixtures of the locustfile tests: a stand-in gateway process on 127.0.0.1 and a Locust runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aideon_resilience.adapters.standin.process import running_standin

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCUSTFILE = REPO / "loadtests" / "gateway.py"


@pytest.fixture
def standin() -> Iterator[str]:
    """A stand-in api-gateway with a little CPU and latency (scaled down), its base URL."""
    with running_standin("api-gateway", "--cpu-scale", "0.2", "--latency-scale", "0.05", "--seed", "3") as s:
        yield s.url


@dataclass
class Result:
    code: int
    out: str


def locust_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIDEON_", "LOCUST_"))}
    env.update({"AIDEON_THINK_TIME": "0.02,0.1", **extra})
    return env


def run_locust(args: list[str], env: dict[str, str] | None = None, timeout: float = 40) -> Result:
    """A bounded local Locust process; stdout and stderr together."""
    proc = subprocess.run(
        [str(BIN / "locust"), "-f", str(LOCUSTFILE), *args],
        capture_output=True, text=True, timeout=timeout, env=env or locust_env(), cwd=REPO,
    )
    return Result(proc.returncode, proc.stdout + proc.stderr)
