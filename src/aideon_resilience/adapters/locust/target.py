"""Which gateway a locustfile may load: loopback only unless AIDEON_ALLOW_REMOTE_TARGET=1.

No Locust import: used by loadtests/gateway.py at start-up and tested on its own.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

from aideon_resilience.settings import Settings

DEFAULT_HOST = "http://127.0.0.1:8080"
ALLOW_REMOTE = "AIDEON_ALLOW_REMOTE_TARGET"


class TargetRefused(Exception):
    """The target URL is malformed or not allowed; the message is one line."""


def is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def check_target(host: str | None, env: Mapping[str, str] | None = None) -> str:
    """The target URL (default loopback) or TargetRefused; nothing is sent anywhere."""
    url = host or DEFAULT_HOST
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(f"--host {url!r} is not an http(s) URL")
    if not is_loopback(parts.hostname) and Settings(env).raw(ALLOW_REMOTE) != "1":
        raise TargetRefused(
            f"refusing non-loopback target {parts.hostname!r}: set {ALLOW_REMOTE}=1 to load a remote gateway on purpose"
        )
    return url


def unreachable_reason(url: str, timeout_s: float = 3.0) -> str | None:
    """None when a TCP connection to the target opens, else why not."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def parse_think_time(raw: str, default: tuple[float, float]) -> tuple[float, float]:
    """AIDEON_THINK_TIME="MIN,MAX" seconds; ValueError with a one-line reason."""
    if not raw:
        return default
    try:
        lo, hi = (float(x) for x in raw.split(","))
    except ValueError:
        raise ValueError(f"AIDEON_THINK_TIME={raw!r}: expected MIN,MAX in seconds") from None
    if lo < 0 or hi < lo:
        raise ValueError(f"AIDEON_THINK_TIME={raw!r}: need 0 <= MIN <= MAX")
    return lo, hi
