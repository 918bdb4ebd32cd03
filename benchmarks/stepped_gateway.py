"""The gateway locustfile's user held at a few user counts in turn (for bench_users_per_worker.py).

BENCH_STEPS="5000,10000,15000" users, each held BENCH_STEP_SECONDS, spawned at BENCH_SPAWN_RATE/s.
"""

from __future__ import annotations

import os
import sys

from locust import LoadTestShape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "loadtests"))
from gateway import GatewayUser  # noqa: E402,F401

STEPS = [int(x) for x in os.environ.get("BENCH_STEPS", "2000,4000").split(",")]
STEP_S = float(os.environ.get("BENCH_STEP_SECONDS", "20"))
RATE = float(os.environ.get("BENCH_SPAWN_RATE", "1000"))


class Steps(LoadTestShape):
    def tick(self) -> tuple[int, float] | None:
        i = int(self.get_run_time() // STEP_S)
        return (STEPS[i], RATE) if i < len(STEPS) else None
