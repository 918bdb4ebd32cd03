"""Users one Locust worker process carries at no more than 80% CPU with the default think time.

loadtests/gateway.py (default think time from core.profiles) runs in one process at a few user
counts; over a steady interval (all users spawned and signed in) we measure the process's CPU
seconds per request. A user at the default think time sends at most 1 / mean think time requests
per second, so one core at 80% carries 0.8 / (CPU per request x that rate) users. CPU per request
rather than CPU share keeps the figure meaningful on a busy machine. Baseline in the same run: the
bare FastHttpUser with the same think time at the largest user count. Goal: at least 10,000.
"""

from __future__ import annotations

import time
from typing import Any

from _harness import BARE, LOCUSTFILE, fast_standin, locust, report, wait_users

from aideon_resilience.core.profiles import THINK_TIME_S, mean_think_time_s

USER_COUNTS = (10_000, 14_000)
RATE = 2_500
SETTLE_S = 6
MEASURE_S = 12
THINK = {"AIDEON_THINK_TIME": f"{THINK_TIME_S[0]},{THINK_TIME_S[1]}"}


def measure(locustfile: Any, host: str, users: int) -> dict[str, float]:
    with locust(locustfile, host, users, RATE, 60, THINK) as run:
        wait_users(run, users, 30)
        time.sleep(SETTLE_S)
        c0, r0, t0 = run.cpu_seconds(), run.total_requests(), time.monotonic()
        time.sleep(MEASURE_S)
        c1, r1, t1 = run.cpu_seconds(), run.total_requests(), time.monotonic()
    cpu, reqs, wall = c1 - c0, max(r1 - r0, 1), t1 - t0
    return {"users": users, "cpu_share": cpu / wall, "rps": reqs / wall, "cpu_ms_per_request": 1000 * cpu / reqs}


def main() -> dict[str, Any]:
    max_rps_per_user = 1 / mean_think_time_s()
    with fast_standin() as (host, _):
        points = [measure(LOCUSTFILE, host, n) for n in USER_COUNTS]
        bare = measure(BARE, host, USER_COUNTS[-1])
    top = points[-1]
    users_at_80 = int(0.8 / (top["cpu_ms_per_request"] / 1000 * max_rps_per_user))
    # the measured CPU shares, interpolated (or extrapolated) linearly: the plan takes the lower figure
    (u0, c0), (u1, c1) = ((p["users"], p["cpu_share"]) for p in points[-2:])
    if c1 > c0:
        users_at_80 = min(users_at_80, int(u0 + (0.8 - c0) / (c1 - c0) * (u1 - u0)))
    return report(
        "users_per_worker",
        {
            "think_time_s": list(THINK_TIME_S),
            "points": [{k: round(v, 3) for k, v in p.items()} for p in points],
            "users_at_80pct_cpu": users_at_80,
            "rps_at_80pct_cpu": round(users_at_80 * max_rps_per_user),
            "bare_cpu_ms_per_request": round(bare["cpu_ms_per_request"], 3),
            "gateway_cpu_ms_per_request": round(top["cpu_ms_per_request"], 3),
            "cpu_per_request_ratio_vs_bare": round(top["cpu_ms_per_request"] / bare["cpu_ms_per_request"], 3),
            "goal": ">= 10,000 users at <= 80% CPU",
        },
    )


if __name__ == "__main__":
    main()
