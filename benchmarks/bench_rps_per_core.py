"""Requests per second per core of loadtests/gateway.py vs a bare FastHttpUser, same fast target.

Both run in one Locust process with no think time against a stand-in that spends no CPU and
adds no latency; each is measured over the same steady interval as requests / CPU seconds of the
Locust process. Goal: ratio >= 0.9.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

from _harness import BARE, LOCUSTFILE, fast_standin, locust, report, wait_users

USERS = 32
WARMUP_S = 4
MEASURE_S = 15


def measure(locustfile: Any, host: str, extra_env: dict[str, str] | None = None) -> float:
    env = {"AIDEON_THINK_TIME": "0,0", **(extra_env or {})}
    with locust(locustfile, host, USERS, USERS, WARMUP_S + MEASURE_S + 5, env) as run:
        wait_users(run, USERS, 20)
        time.sleep(WARMUP_S)
        r0, c0 = run.total_requests(), run.cpu_seconds()
        time.sleep(MEASURE_S)
        r1, c1 = run.total_requests(), run.cpu_seconds()
    return (r1 - r0) / max(c1 - c0, 1e-9)


def main() -> dict[str, Any]:
    with fast_standin() as (host, _):
        bare = measure(BARE, host)
        with tempfile.TemporaryDirectory() as tmp:  # as used: windowed statistics on
            gateway = measure(LOCUSTFILE, host, {"AIDEON_WINDOWS_FILE": f"{tmp}/windows.jsonl"})
    return report(
        "rps_per_core",
        {
            "bare_fasthttpuser_rps_per_core": round(bare),
            "gateway_py_rps_per_core": round(gateway),
            "ratio": round(gateway / bare, 3),
            "goal": ">= 0.9",
        },
    )


if __name__ == "__main__":
    main()
