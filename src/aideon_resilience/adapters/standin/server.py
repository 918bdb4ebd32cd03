"""The stand-in process of one platform service: a small asyncio HTTP/1.1 server with keep-alive.

It serves the gateway routes of `core.profiles.ROUTES`, `/health`, `/ready`, `/metrics` (Prometheus
text) and admin switches (`POST /admin/fail`, `/admin/hang`, `/admin/recover`, `GET /admin/state`).
Each application request spends the profile's CPU (a real busy loop on the process clock), waits
the profile's latency without blocking other requests, and calls the next service of the route's
chain when `AIDEON_UPSTREAM_<SERVICE>` gives its URL. It listens on loopback only.

A hand-written parser on `asyncio.Protocol` keeps the per-request cost small so the stand-in is
not the bottleneck of the load it serves (see benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import json
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aideon_resilience.adapters.standin.metrics import Metrics
from aideon_resilience.core.profiles import PROFILES, ROUTES, Route, ServiceProfile, match_route, next_hop, profile
from aideon_resilience.core.profiles import sample_latency_ms as _sample
from aideon_resilience.errors import SafetyRefusal, UsageError
from aideon_resilience.settings import settings

MAX_HEAD = 64 * 1024
MAX_BODY = 4 * 1024 * 1024
HANG_CAP_S = 600.0

_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


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


@dataclass
class StandinConfig:
    service: str
    host: str = "127.0.0.1"
    port: int = 0
    cpu_scale: float = 1.0
    latency_scale: float = 1.0
    upstream_timeout_s: float = 5.0
    upstreams: dict[str, tuple[str, int]] = field(default_factory=dict)
    seed: int | None = None


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


Response = tuple[int, bytes, str]  # status, body, content type


def burn_cpu(ms: float) -> None:
    """Spend `ms` milliseconds of this thread's CPU time."""
    if ms <= 0:
        return
    deadline = time.thread_time() + ms / 1000.0
    x = 0
    while time.thread_time() < deadline:
        for i in range(200):
            x ^= i * i


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


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


class Standin:
    """State and request handling of one stand-in process (one event loop thread)."""

    def __init__(self, config: StandinConfig) -> None:
        self.config = config
        self.profile: ServiceProfile = profile(config.service)
        self.metrics = Metrics(config.service)
        self.rng = random.Random(config.seed)
        self.mode = "ok"
        self.fail_status = 503
        self.probes_affected = False
        self.recovered = asyncio.Event()
        self.recovered.set()
        self.pools = {
            name: UpstreamPool(host, port, config.upstream_timeout_s)
            for name, (host, port) in config.upstreams.items()
        }
        self._tokens = 0

    # -- dispatch -------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response | Awaitable[Response]:
        """A response now, or an awaitable of one when the request has to wait."""
        path = req.path
        if path.startswith("/admin/"):
            return self._admin(req)
        if path == "/metrics":
            return 200, self.metrics.render(self.mode).encode(), "text/plain; version=0.0.4; charset=utf-8"
        if path in ("/health", "/ready", "/healthz", "/readyz"):
            return self._probe(req)
        route = match_route(req.method, req.target)
        if route is None:
            if any(r.path.rstrip("/") == path.rstrip("/") or path.startswith(r.path) for r in ROUTES.values()):
                return 405, _json({"error": "method not allowed"}), "application/json"
            return 404, _json({"error": "not found", "path": path}), "application/json"
        if self.mode == "hang":
            return self._hang_then(req, route)
        return self._serve(req, route)

    def _probe(self, req: Request) -> Response | Awaitable[Response]:
        if self.probes_affected and self.mode == "hang":
            return self._hang_then(req, None)
        if self.probes_affected and self.mode == "fail":
            return self.fail_status, _json({"status": "failing", "service": self.config.service}), "application/json"
        return 200, _json({"status": "ok", "service": self.config.service}), "application/json"

    async def _hang_then(self, req: Request, route: Route | None) -> Response:
        try:
            await asyncio.wait_for(self.recovered.wait(), HANG_CAP_S)
        except TimeoutError:
            return 504, _json({"error": "hung"}), "application/json"
        result = self._serve(req, route) if route is not None else self._probe(req)
        if isinstance(result, tuple):
            return result
        return await result

    def _serve(self, req: Request, route: Route) -> Response | Awaitable[Response]:
        if self.mode == "fail":
            return self.fail_status, _json({"error": "injected failure"}), "application/json"
        if route.name != "/api/v1/auth/login" and route.name != "/health":
            auth = req.headers.get("authorization", "")
            if not auth.startswith("Bearer "):
                return 401, _json({"error": "missing bearer token"}), "application/json"
        burn_cpu(self.profile.cpu_ms * self.config.cpu_scale)
        delay = _sample(self.profile, self.rng, self.config.latency_scale) / 1000.0
        hop = next_hop(route, self.config.service)
        pool = self.pools.get(hop) if hop else None
        if hop is not None and pool is None:
            delay += self.simulated_downstream_ms(route) / 1000.0
        if delay <= 0 and pool is None:
            return self._body(route, req)
        return self._slow(req, route, delay, pool)

    def simulated_downstream_ms(self, route: Route) -> float:
        """Latency of the rest of the chain, drawn from its profiles, when the next hop has no URL.

        A stand-in running alone then answers about as slowly as the platform would; with
        `AIDEON_UPSTREAM_<SERVICE>` set the real call replaces this.
        """
        hop = next_hop(route, self.config.service)
        if hop is None or hop in self.pools:
            return 0.0
        rest = route.chain[route.chain.index(hop) :]
        return sum(_sample(profile(s), self.rng, self.config.latency_scale) for s in rest)

    async def _slow(self, req: Request, route: Route, delay: float, pool: UpstreamPool | None) -> Response:
        if delay > 0:
            await asyncio.sleep(delay)
        if pool is not None:
            try:
                status = await pool.request(req)
            except TimeoutError:
                return 504, _json({"error": "upstream timeout"}), "application/json"
            except (OSError, ValueError, asyncio.IncompleteReadError):
                return 502, _json({"error": "upstream unreachable"}), "application/json"
            if status >= 500:
                return 502, _json({"error": f"upstream status {status}"}), "application/json"
            if status >= 400:
                return status, _json({"error": f"upstream status {status}"}), "application/json"
        return self._body(route, req)

    def _body(self, route: Route, req: Request) -> Response:
        name = route.name
        svc = self.config.service
        if name in ("/api/v1/auth/login", "/api/v1/auth/refresh"):
            self._tokens += 1
            tok = f"standin-{svc}-{self._tokens}"
            return (
                200,
                _json({"access_token": tok, "refresh_token": "r-" + tok, "token_type": "bearer", "expires_in": 900}),
                "application/json",
            )
        if name == "/api/v1/chat/completions":
            return (
                200,
                _json({"id": f"chat-{self._tokens}", "choices": [{"message": {"role": "assistant", "content": "ok"}}]}),
                "application/json",
            )
        if name == "/api/v1/knowledge/search":
            results = [{"id": "doc-1", "score": 0.9}, {"id": "doc-2", "score": 0.7}]
            return 200, _json({"results": results}), "application/json"
        if name == "/api/v1/subscriptions/[user]":
            user = req.path.rsplit("/", 1)[-1]
            return 200, _json({"user": user, "plan": "pro", "active": True}), "application/json"
        if name == "/api/v1/analytics/events":
            return 202, _json({"accepted": True}), "application/json"
        return 200, _json({"status": "ok", "service": svc}), "application/json"

    def _admin(self, req: Request) -> Response:
        action = req.path[len("/admin/") :]
        query = parse_qs(urlsplit(req.target).query)
        if action == "state" and req.method == "GET":
            return 200, self._state(), "application/json"
        if req.method != "POST":
            return 405, _json({"error": "admin actions are POST"}), "application/json"
        probes = query.get("probes", ["0"])[0] in ("1", "true", "yes")
        if action == "fail":
            try:
                status = int(query.get("status", ["503"])[0])
            except ValueError:
                status = 0
            if not 500 <= status <= 599:
                return 400, _json({"error": "status must be a 5xx code"}), "application/json"
            self.mode, self.fail_status, self.probes_affected = "fail", status, probes
            self.recovered.set()
        elif action == "hang":
            self.mode, self.probes_affected = "hang", probes
            self.recovered.clear()
        elif action == "recover":
            self.mode, self.probes_affected = "ok", False
            self.recovered.set()
        else:
            return 404, _json({"error": f"unknown admin action {action!r}"}), "application/json"
        return 200, self._state(), "application/json"

    def _state(self) -> bytes:
        return _json(
            {
                "service": self.config.service,
                "mode": self.mode,
                "fail_status": self.fail_status,
                "probes_affected": self.probes_affected,
                "inflight": self.metrics.inflight,
            }
        )


def _route_label(req: Request) -> str:
    path = req.path
    if path.startswith("/admin/"):
        return "/admin"
    route = match_route(req.method, req.target)
    if route is not None:
        return route.name
    if path in ("/health", "/ready", "/metrics", "/healthz", "/readyz"):
        return path
    return "other"


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and pipelining (responses in request order)."""

    def __init__(self, app: Standin) -> None:
        self.app = app
        self.buf = b""
        self.busy = False
        self.transport: asyncio.Transport | None = None
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._process()

    def _error(self, status: int) -> None:
        self._write(status, _json({"error": _REASONS.get(status, "error")}), "application/json", False)
        self.buf = b""

    def _process(self) -> None:
        while self.buf and not self.closing:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self._error(431)
                return
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self._error(400)
                return
            method, target, version = parts
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    self._error(400)
                    return
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._error(501)
                return
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self._error(400)
                return
            if length < 0 or length > MAX_BODY:
                self._error(413)
                return
            total = end + 4 + length
            if len(self.buf) < total:
                return
            body = self.buf[end + 4 : total]
            self.buf = self.buf[total:]
            conn = headers.get("connection", "").lower()
            keep = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
            req = Request(method, target, headers, body)
            started = time.perf_counter()
            result = self.app.handle(req)
            if isinstance(result, tuple):
                self._finish(req, result, keep, started)
                continue
            self.busy = True
            self.app.metrics.inflight += 1
            task = asyncio.ensure_future(result)
            task.add_done_callback(functools.partial(self._done, req=req, keep=keep, started=started))
            return

    def _done(self, task: asyncio.Future[Response], req: Request, keep: bool, started: float) -> None:
        self.app.metrics.inflight -= 1
        self.busy = False
        if task.cancelled():
            result: Response = (503, _json({"error": "shutting down"}), "application/json")
        elif task.exception() is not None:
            result = (500, _json({"error": "internal error"}), "application/json")
        else:
            result = task.result()
        self._finish(req, result, keep, started)
        if not self.closing:
            self._process()

    def _finish(self, req: Request, result: Response, keep: bool, started: float) -> None:
        status, body, ctype = result
        self.app.metrics.observe(_route_label(req), status, time.perf_counter() - started)
        self._write(status, body, ctype, keep)

    def _write(self, status: int, body: bytes, ctype: str, keep: bool) -> None:
        if self.transport is None:
            return
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {'keep-alive' if keep else 'close'}\r\n\r\n"
        )
        self.transport.write(head.encode("latin-1") + body)
        if not keep:
            self.closing = True
            self.transport.close()


async def serve(config: StandinConfig, ready: Callable[[int], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT (or cancellation). `ready(port)` is called once listening."""
    if not is_loopback_host(config.host):
        raise SafetyRefusal(f"standin: refusing to listen on non-loopback address {config.host!r} (loopback only)")
    app = Standin(config)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HttpProtocol(app), config.host, config.port, reuse_address=True, backlog=4096
    )
    port = int(server.sockets[0].getsockname()[1])
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready(port)
    try:
        async with server:
            await stop.wait()
    finally:
        server.close()
        app.recovered.set()
