"""CPU per request of a stand-in that reports each proxied answer as an attempt, against the same
stand-in reporting nothing (issue 15: outlier detection counts every attempt).

Two fast stand-ins (no CPU burn, no latency) in their own processes, one given
`AIDEON_ATTEMPT_LOG_PORT` (a loopback UDP socket this script drains), one not. The same requests,
carrying the proxy's `x-aideon-pool` header, go to each over one keep-alive connection, in
alternating rounds; the figure is the stand-in process's CPU seconds per 1,000 requests (psutil).
A stand-in that spends nothing per request is the worst case for the ratio: the goal is on the
CPU the report adds per request, at most 25 µs (the gateway's profile spends 1.5 ms of CPU per
request, which the data plane's stand-ins spend in full).
"""

from __future__ import annotations

import http.client
import threading
from contextlib import ExitStack
from typing import Any

import psutil
from _harness import report

from aideon_resilience.adapters.dataplane.request_log import RequestLog
from aideon_resilience.adapters.standin.process import running_standin

REQUESTS = 15000  # psutil's CPU times tick every 10 ms: enough requests to make that small
ROUNDS = 3
HEADERS = {"Authorization": "Bearer t", "X-Aideon-Pool": "be_api-gateway"}
ROUTE = "/api/v1/subscriptions/u1"


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


def measure(port: int, server: psutil.Process) -> float:
    """CPU seconds of the stand-in per 1,000 requests."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(200):  # warm-up
        conn.request("GET", ROUTE, headers=HEADERS)
        conn.getresponse().read()
    c0 = _cpu(server)
    for _ in range(REQUESTS):
        conn.request("GET", ROUTE, headers=HEADERS)
        conn.getresponse().read()
    c1 = _cpu(server)
    conn.close()
    return (c1 - c0) * 1000 / REQUESTS


def main() -> dict[str, Any]:
    log = RequestLog()
    stop = threading.Event()
    received = [0]

    def drain() -> None:
        while not stop.is_set():
            received[0] += len(log.read(0.1))

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    runs: dict[str, list[float]] = {"silent": [], "reporting": []}
    try:
        with ExitStack() as stack:
            args = ("api-gateway", "--cpu-scale", "0", "--latency-scale", "0")
            silent = stack.enter_context(running_standin(*args))
            loud = stack.enter_context(running_standin(*args, attempt_log_port=log.port))
            for _ in range(ROUNDS):
                runs["silent"].append(measure(silent.port, psutil.Process(silent.proc.pid)))
                runs["reporting"].append(measure(loud.port, psutil.Process(loud.proc.pid)))
    finally:
        stop.set()
        reader.join(5)
        log.close()
    base, with_reports = min(runs["silent"]), min(runs["reporting"])
    added_us = (with_reports - base) * 1000  # CPU ms per 1,000 requests = µs per request
    return report(
        "standin_attempts",
        {
            "cpu_ms_per_1000_silent": round(base * 1000, 1),
            "cpu_ms_per_1000_reporting": round(with_reports * 1000, 1),
            "ratio": round(with_reports / base, 3),
            "added_us_per_request": round(added_us, 1),
            "goal": "added <= 25 us per request",
            "attempts_received": received[0],
            "attempts_sent": ROUNDS * (REQUESTS + 200),
            "rounds": runs,
        },
    )


if __name__ == "__main__":
    main()
