"""Memory per simulated user of loadtests/gateway.py at 10,000 users in one process.

Resident memory of the Locust process with 10,000 signed-in, thinking users minus the same
process with 1 user, divided by the users; the bare FastHttpUser measured the same way is the
baseline. Goal: at most 32 KiB per user.
"""

from __future__ import annotations

import time
from typing import Any

from _harness import BARE, LOCUSTFILE, fast_standin, locust, report, wait_users

USERS = 10_000
RATE = 2_000
SETTLE_S = 3
THINK = {"AIDEON_THINK_TIME": "60,120"}  # users sign in, then think for the rest of the run


def rss_at(locustfile: Any, host: str, users: int) -> int:
    with locust(locustfile, host, users, RATE, 40, THINK) as run:
        wait_users(run, users, 30)
        time.sleep(SETTLE_S)
        return run.rss_bytes()


def per_user_kib(locustfile: Any, host: str) -> tuple[float, int]:
    idle = rss_at(locustfile, host, 1)
    full = rss_at(locustfile, host, USERS)
    return (full - idle) / USERS / 1024, full


def main() -> dict[str, Any]:
    with fast_standin() as (host, _):
        bare_kib, _ = per_user_kib(BARE, host)
        gw_kib, gw_rss = per_user_kib(LOCUSTFILE, host)
    return report(
        "memory_per_user",
        {
            "users": USERS,
            "bare_kib_per_user": round(bare_kib, 1),
            "gateway_py_kib_per_user": round(gw_kib, 1),
            "gateway_py_rss_mib_at_users": round(gw_rss / 2**20),
            "ratio_vs_bare": round(gw_kib / bare_kib, 3) if bare_kib > 0 else None,
            "goal": "<= 32 KiB per user",
        },
    )


if __name__ == "__main__":
    main()
