"""Requests per second per core of loadtests/gateway.py vs a bare FastHttpUser, same fast target.

Both run in one Locust process with no think time against a stand-in that spends no CPU and
adds no latency; each is measured over the same steady interval as requests / CPU seconds of the
Locust process. Goal: ratio >= 0.9. Two baselines: a bare user doing `GET /health` (the cheapest
request there is) and a bare user sending the same requests as gateway.py without its logic.
The stand-in's own requests per CPU second are measured in the same interval: above the
client's, one stand-in core outpaces one Locust core (it is not the bottleneck).
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

import psutil
from _harness import BARE, BARE_MIX, LOCUSTFILE, fast_standin, locust, report, wait_users

USERS = 32
WARMUP_S = 3
MEASURE_S = 10
ROUNDS = 2  # variants alternate, so a burst of other work on the machine hits all of them


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


def measure(locustfile: Any, host: str, server: psutil.Process, extra_env: dict[str, str] | None = None) -> tuple[
    float, float
]:
    env = {"AIDEON_THINK_TIME": "0,0", **(extra_env or {})}
    with locust(locustfile, host, USERS, USERS, WARMUP_S + MEASURE_S + 5, env) as run:
        wait_users(run, USERS, 20)
        time.sleep(WARMUP_S)
        r0, c0, s0 = run.total_requests(), run.cpu_seconds(), _cpu(server)
        time.sleep(MEASURE_S)
        r1, c1, s1 = run.total_requests(), run.cpu_seconds(), _cpu(server)
    return (r1 - r0) / max(c1 - c0, 1e-9), (r1 - r0) / max(s1 - s0, 1e-9)


def main() -> dict[str, Any]:
    runs: dict[str, list[tuple[float, float]]] = {"bare": [], "bare_mix": [], "gateway": []}
    with fast_standin() as (host, server), tempfile.TemporaryDirectory() as tmp:
        for _ in range(ROUNDS):
            runs["bare"].append(measure(BARE, host, server))
            # as used: windowed statistics on
            runs["gateway"].append(measure(LOCUSTFILE, host, server, {"AIDEON_WINDOWS_FILE": f"{tmp}/w.jsonl"}))
            runs["bare_mix"].append(measure(BARE_MIX, host, server))
    mean = {k: (sum(c for c, _ in v) / len(v), sum(s for _, s in v) / len(v)) for k, v in runs.items()}
    bare, server_bare = mean["bare"]
    gateway, server_gw = mean["gateway"]
    return report(
        "rps_per_core",
        {
            "bare_fasthttpuser_rps_per_core": round(bare),
            "gateway_py_rps_per_core": round(gateway),
            "ratio": round(gateway / bare, 3),
            "goal": ">= 0.9",
            "bare_same_requests_rps_per_core": round(mean["bare_mix"][0]),
            "ratio_vs_bare_same_requests": round(gateway / mean["bare_mix"][0], 3),
            "rounds": ROUNDS,
            "standin_rps_per_core_bare_routes": round(server_bare),
            "standin_rps_per_core_gateway_routes": round(server_gw),
            "standin_vs_client_ratio": round(server_gw / gateway, 2),
        },
    )


if __name__ == "__main__":
    main()
