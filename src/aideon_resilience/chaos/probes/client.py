"""Client-side SLOs from the windowed Locust statistics (JSON Lines windows file)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aideon_resilience.chaos import guard
from aideon_resilience.core.evidence.loadstats import AGGREGATED, read_windows
from aideon_resilience.settings import settings

__all__ = ["client_slo"]


def client_slo(
    windows_file: str | None = None,
    max_error_ratio: float = 0.01,
    max_p95_ms: float | None = None,
    since_seconds: float | None = None,
    endpoint: str = AGGREGATED,
    min_requests: int = 1,
) -> dict[str, Any]:
    """Every window of `endpoint` (in the last `since_seconds`, if given) met the SLO.

    The windows file defaults to ``$AIDEON_WINDOWS_FILE``. With no windows file and no
    ``AIDEON_GATEWAY_URL`` there is no client traffic to judge: the probe says so and holds.
    """
    path_s = windows_file or settings().text("AIDEON_WINDOWS_FILE")
    if not path_s:
        if not settings().gateway_url:
            return {"probe": "client_slo", "skipped": "no load configured (AIDEON_GATEWAY_URL unset)", "ok": True}
        return {"probe": "client_slo", "error": "AIDEON_WINDOWS_FILE is not set", "ok": False}
    path = Path(path_s)
    if not path.is_file():
        return {"probe": "client_slo", "windows_file": str(path), "error": "no windows file yet", "ok": False}
    windows = [w for w in read_windows(path) if w.endpoint == endpoint]
    since = guard.opt_float(since_seconds)
    p95_limit = guard.opt_float(max_p95_ms)
    if since is not None:
        cutoff = time.time() - since
        windows = [w for w in windows if w.end >= cutoff]
    requests = sum(w.requests for w in windows)
    breaches: list[dict[str, Any]] = []
    for w in windows:
        reasons = []
        if w.error_ratio > float(max_error_ratio):
            reasons.append(f"error ratio {w.error_ratio:.4f} > {float(max_error_ratio)}")
        if p95_limit is not None and w.p95_ms is not None and w.p95_ms > p95_limit:
            reasons.append(f"p95 {w.p95_ms:.0f} ms > {p95_limit:.0f} ms")
        if reasons:
            breaches.append({"start": w.start, "end": w.end, "reasons": reasons})
    enough = requests >= int(min_requests)
    return {
        "probe": "client_slo",
        "windows_file": str(path),
        "endpoint": endpoint,
        "windows": len(windows),
        "requests": requests,
        "failures": sum(w.failures for w in windows),
        "worst_error_ratio": max((w.error_ratio for w in windows), default=None),
        "worst_p95_ms": max((w.p95_ms for w in windows if w.p95_ms is not None), default=None),
        "breaches": breaches[:100],
        "error": None if enough else f"only {requests} requests recorded (need {int(min_requests)})",
        "ok": enough and not breaches,
    }
