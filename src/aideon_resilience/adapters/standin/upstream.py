"""The stand-in's calls to the next service of a route: upstream URLs and keep-alive connections."""

from __future__ import annotations

import asyncio
import ipaddress
from urllib.parse import urlsplit

from aideon_resilience.adapters.standin.http import Request
from aideon_resilience.core.profiles import PROFILES
from aideon_resilience.errors import SafetyRefusal, UsageError
from aideon_resilience.settings import settings


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def upstream_env_name(service: str) -> str:
    return "AIDEON_UPSTREAM_" + service.upper().replace("-", "_")


def upstreams_from_env(env: dict[str, str] | None = None) -> dict[str, tuple[str, int]]:
    """Upstream services and their loopback (host, port) from `AIDEON_UPSTREAM_<SERVICE>` variables."""
    env = settings().upstreams() if env is None else env

    out: dict[str, tuple[str, int]] = {}
    for name in PROFILES:
        var = upstream_env_name(name)
        url = env.get(var)
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.port is None:
            raise UsageError(f"{var}: expected http://127.0.0.1:PORT, got {url!r}")
        if not is_loopback_host(parts.hostname):
            raise SafetyRefusal(f"{var}: refusing non-loopback upstream {parts.hostname} (loopback only)")
        out[name] = (parts.hostname, parts.port)
    return out


class UpstreamPool:
    """Keep-alive HTTP/1.1 connections to one upstream stand-in (or proxy) on loopback."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(self, req: Request) -> int:
        """Forward a request; returns the upstream status (raises OSError/TimeoutError on failure)."""
        return await asyncio.wait_for(self._request(req), self.timeout_s)

    async def _request(self, req: Request) -> int:
        while self.idle:
            # A kept-alive connection the peer closed meanwhile (its keep-alive timeout) fails before
            # any byte of a response: that request was never processed, so it goes on a fresh one.
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, req)
            except _ClosedBeforeResponse:
                continue
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            return await self._exchange(reader, writer, req)
        except _ClosedBeforeResponse:
            raise OSError("upstream closed the connection without a response") from None

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: Request) -> int:
        ok = False
        try:
            head = f"{req.method} {req.target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            auth = req.headers.get("authorization")
            if auth:
                head += f"Authorization: {auth}\r\n"
            head += f"Content-Length: {len(req.body)}\r\nContent-Type: application/json\r\n\r\n"
            try:
                writer.write(head.encode("latin-1") + req.body)
                status_line = await reader.readline()
            except (ConnectionResetError, BrokenPipeError):
                raise _ClosedBeforeResponse from None
            if not status_line:
                raise _ClosedBeforeResponse
            parts = status_line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
                raise OSError("malformed upstream response")
            status = int(parts[1])
            length = 0
            keep = True
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                lname = name.strip().lower()
                if lname == "content-length":
                    length = int(value.strip())
                elif lname == "connection" and value.strip().lower() == "close":
                    keep = False
            if length:
                await reader.readexactly(length)
            ok = keep
            return status
        finally:
            if ok and len(self.idle) < 256:
                self.idle.append((reader, writer))
            else:
                writer.close()


class _ClosedBeforeResponse(Exception):
    """The peer closed the connection before sending any byte of a response."""
