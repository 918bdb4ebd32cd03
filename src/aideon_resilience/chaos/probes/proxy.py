"""Outlier ejections seen by the local proxy (HAProxy stats CSV) or by Prometheus."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.parse
import urllib.request
from typing import Any

from chaoslib.exceptions import ActivityFailed

from aideon_resilience.chaos import guard
from aideon_resilience.settings import settings

__all__ = ["proxy_ejections"]


def _get(url: str, timeout: float) -> str:
    guard.require_loopback(url, "probe URL")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return str(resp.read().decode("utf-8", "replace"))
    except OSError as exc:
        raise ActivityFailed(f"GET {url} failed: {exc}") from None


def _haproxy(stats_url: str, backend: str | None, timeout: float) -> list[dict[str, Any]]:
    text = _get(stats_url, timeout).lstrip("# ")
    servers = []
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("svname") in ("FRONTEND", "BACKEND") or not row.get("svname"):
            continue
        if backend and row.get("pxname") != backend:
            continue
        servers.append(
            {
                "backend": row.get("pxname"),
                "server": row.get("svname"),
                "status": row.get("status"),
                "ejections": int(row.get("chkdown") or 0),
            }
        )
    return servers


def _prometheus(prometheus_url: str, query: str, timeout: float) -> float:
    url = prometheus_url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    data = json.loads(_get(url, timeout))
    if data.get("status") != "success":
        raise ActivityFailed(f"Prometheus query {query!r} failed: {data.get('error')}")
    return float(sum(float(r["value"][1]) for r in data["data"]["result"]))


def proxy_ejections(
    stats_url: str | None = None,
    backend: str | None = None,
    min_ejections: int = 0,
    max_down: int | None = None,
    prometheus_url: str | None = None,
    query: str = "sum(envoy_cluster_outlier_detection_ejections_total)",
    timeout: float = 5,
) -> dict[str, Any]:
    """Ejections of backends by outlier detection (a server forced DOWN counts in HAProxy's chkdown).

    Reads the HAProxy stats CSV at `stats_url` (default ``$AIDEON_PROXY_STATS_URL``), or, when
    `prometheus_url` is given, the result of `query`. ok when at least `min_ejections`
    ejections happened and (if `max_down` is given) at most `max_down` servers are down now.
    """
    stats = stats_url or settings().text("AIDEON_PROXY_STATS_URL") or ""
    if prometheus_url:
        total = _prometheus(prometheus_url, query, float(timeout))
        return {"probe": "proxy_ejections", "source": "prometheus", "query": query, "ejections": total,
                "at": time.time(), "ok": total >= float(min_ejections)}  # fmt: skip
    if not stats:
        raise ActivityFailed("proxy_ejections needs stats_url (or AIDEON_PROXY_STATS_URL) or prometheus_url")
    servers = _haproxy(stats, backend, float(timeout))
    total = sum(s["ejections"] for s in servers)
    down = [s["server"] for s in servers if str(s["status"]).upper().startswith("DOWN")]
    down_limit = guard.opt_int(max_down)
    ok = total >= int(min_ejections) and (down_limit is None or len(down) <= down_limit)
    return {
        "probe": "proxy_ejections",
        "source": "haproxy",
        "stats_url": stats,
        "backend": backend,
        "servers": servers,
        "ejections": total,
        "down": down,
        "at": time.time(),
        "ok": ok and bool(servers),
    }
