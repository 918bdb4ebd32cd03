"""Users one Locust worker process carries at no more than 80% CPU with the default think time.

loadtests/gateway.py's user (default think time from core.profiles) is held at a few user counts
in one process; CPU use of the process is measured over the second half of each step, and the
user count at 80% is interpolated. Baseline in the same run: the bare FastHttpUser with the same
think time at the middle step. Goal: at least 10,000 users per worker.
"""

from __future__ import annotations

import time
from typing import Any

from _harness import BARE, STEPPED, fast_standin, locust, report, wait_users

from aideon_resilience.core.profiles import THINK_TIME_S

STEPS = (5_000, 10_000, 15_000)
STEP_S = 24
RATE = 1_000
THINK = {"AIDEON_THINK_TIME": f"{THINK_TIME_S[0]},{THINK_TIME_S[1]}"}


def _sample(run: Any, seconds: float) -> tuple[float, float]:
    """CPU use (fraction of one core) and requests per second over `seconds`."""
    c0, r0, t0 = run.cpu_seconds(), run.total_requests(), time.monotonic()
    time.sleep(seconds)
    c1, r1, t1 = run.cpu_seconds(), run.total_requests(), time.monotonic()
    return (c1 - c0) / (t1 - t0), (r1 - r0) / (t1 - t0)


def main() -> dict[str, Any]:
    points: list[tuple[int, float, float]] = []
    env = {**THINK, "BENCH_STEPS": ",".join(map(str, STEPS)), "BENCH_STEP_SECONDS": str(STEP_S),
           "BENCH_SPAWN_RATE": str(RATE)}
    with fast_standin() as (host, _):
        with locust(STEPPED, host, 1, RATE, STEP_S * len(STEPS) + 5, env) as run:
            start = time.monotonic()
            for i, users in enumerate(STEPS):
                # measure the second half of each step, after spawning and the sign-in burst
                time.sleep(max(0.0, start + i * STEP_S + STEP_S / 2 - time.monotonic()))
                cpu, rps = _sample(run, STEP_S / 2 - 2)
                points.append((run.user_count(), cpu, rps))
        mid = STEPS[len(STEPS) // 2]
        with locust(BARE, host, mid, RATE, 40, THINK) as run:
            wait_users(run, mid, 30)
            time.sleep(STEP_S / 2)
            bare_cpu, bare_rps = _sample(run, STEP_S / 2 - 2)
    # linear fit of CPU against users, solved for 80% of one core
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    slope = sum((p[0] - mx) * (p[1] - my) for p in points) / sxx if sxx else 0.0
    intercept = my - slope * mx
    users_at_80 = int((0.8 - intercept) / slope) if slope > 0 else 0
    rps_per_user = sum(p[2] / p[0] for p in points if p[0]) / n
    gw_mid = next((p for p in points if p[0] == mid), points[len(points) // 2])
    return report(
        "users_per_worker",
        {
            "think_time_s": list(THINK_TIME_S),
            "points_users_cpu_rps": [[u, round(c, 3), round(r)] for u, c, r in points],
            "users_at_80pct_cpu": users_at_80,
            "rps_at_80pct_cpu": round(users_at_80 * rps_per_user),
            "bare_cpu_at_mid": round(bare_cpu, 3),
            "bare_rps_at_mid": round(bare_rps),
            "gateway_cpu_at_mid": round(gw_mid[1], 3),
            "cpu_ratio_vs_bare_at_mid": round(gw_mid[1] / bare_cpu, 3) if bare_cpu > 0 else None,
            "goal": ">= 10,000 users at <= 80% CPU",
        },
    )


if __name__ == "__main__":
    main()
