"""Prometheus text exposition of a stand-in process: requests by route and code, latency, CPU."""

from __future__ import annotations

import os
import resource
import time

# Latency histogram bucket bounds, seconds.
BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counters kept by the event loop thread only (no locking needed)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.started = time.time()
        self.requests: dict[tuple[str, int], int] = {}
        self.hist: dict[str, list[int]] = {}
        self.hist_sum: dict[str, float] = {}
        self.inflight = 0

    def observe(self, route: str, code: int, seconds: float) -> None:
        key = (route, code)
        self.requests[key] = self.requests.get(key, 0) + 1
        counts = self.hist.get(route)
        if counts is None:
            counts = self.hist[route] = [0] * (len(BUCKETS) + 1)
            self.hist_sum[route] = 0.0
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
                break
        else:
            counts[-1] += 1
        self.hist_sum[route] += seconds

    def render(self, mode: str) -> str:
        svc = _esc(self.service)
        out: list[str] = [
            "# HELP aideon_standin_requests_total Requests served, by route and HTTP status code.",
            "# TYPE aideon_standin_requests_total counter",
        ]
        for (route, code), n in sorted(self.requests.items()):
            out.append(f'aideon_standin_requests_total{{service="{svc}",route="{_esc(route)}",code="{code}"}} {n}')
        out += [
            "# HELP aideon_standin_request_duration_seconds Time from request received to response written.",
            "# TYPE aideon_standin_request_duration_seconds histogram",
        ]
        for route, counts in sorted(self.hist.items()):
            labels = f'service="{svc}",route="{_esc(route)}"'
            cumulative = 0
            for bound, n in zip(BUCKETS, counts, strict=False):
                cumulative += n
                out.append(f'aideon_standin_request_duration_seconds_bucket{{{labels},le="{bound}"}} {cumulative}')
            cumulative += counts[-1]
            out.append(f'aideon_standin_request_duration_seconds_bucket{{{labels},le="+Inf"}} {cumulative}')
            out.append(f"aideon_standin_request_duration_seconds_sum{{{labels}}} {self.hist_sum[route]:.6f}")
            out.append(f"aideon_standin_request_duration_seconds_count{{{labels}}} {cumulative}")
        out += [
            "# HELP aideon_standin_inflight_requests Requests being handled.",
            "# TYPE aideon_standin_inflight_requests gauge",
            f'aideon_standin_inflight_requests{{service="{svc}"}} {self.inflight}',
            "# HELP aideon_standin_mode Admin mode of the process (1 for the current one).",
            "# TYPE aideon_standin_mode gauge",
        ]
        for m in ("ok", "fail", "hang"):
            out.append(f'aideon_standin_mode{{service="{svc}",mode="{m}"}} {1 if m == mode else 0}')
        t = os.times()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        try:
            with open("/proc/self/statm", encoding="ascii") as fh:
                rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
        out += [
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
            "# TYPE process_cpu_seconds_total counter",
            f"process_cpu_seconds_total {t.user + t.system:.3f}",
            "# HELP process_resident_memory_bytes Resident memory size in bytes.",
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {rss}",
            "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {self.started:.3f}",
        ]
        return "\n".join(out) + "\n"
