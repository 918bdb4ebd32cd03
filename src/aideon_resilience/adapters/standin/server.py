"""The stand-in process of one platform service: a small asyncio HTTP/1.1 server with keep-alive.

It serves the gateway routes of `core.profiles.ROUTES`, `/health`, `/ready`, `/metrics` (Prometheus
text) and admin switches (`POST /admin/fail`, `/admin/hang`, `/admin/recover`, `/admin/memory?mib=N`,
`GET /admin/state`). `/admin/memory` holds N MiB of resident memory (0 gives it back): the data
plane reports the process's resident memory as the pod's usage, so memory autoscaling is real.
Each application request spends the profile's CPU (a real busy loop on the process clock), waits
the profile's latency without blocking other requests, and calls the next service of the route's
chain when `AIDEON_UPSTREAM_<SERVICE>` gives its URL. It listens on loopback only.

The HTTP parsing is in `http`, the calls to the next service in `upstream`."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from aideon_resilience.adapters.standin.attempt_report import AttemptReporter
from aideon_resilience.adapters.standin.http import HttpProtocol, Request, Response, json_body
from aideon_resilience.adapters.standin.metrics import Metrics
from aideon_resilience.adapters.standin.upstream import UpstreamPool, is_loopback_host
from aideon_resilience.core.config.platform import PlatformConfig
from aideon_resilience.core.profiles import ROUTES, Route, ServiceProfile, match_route, next_hop, profile
from aideon_resilience.core.profiles import sample_latency_ms as _sample
from aideon_resilience.errors import SafetyRefusal

HANG_CAP_S = 600.0
MAX_HELD_MIB = 1024  # what `/admin/memory` may hold at most
PAGE = 4096


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
    platform: PlatformConfig | None = None  # the pod's aideon-config; None when run by hand
    attempt_log_port: int | None = None  # where each proxied response is reported (`attempt_report`)


def burn_cpu(ms: float) -> None:
    """Spend `ms` milliseconds of this thread's CPU time."""
    if ms <= 0:
        return
    deadline = time.thread_time() + ms / 1000.0
    x = 0
    while time.thread_time() < deadline:
        for i in range(200):
            x ^= i * i


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
            name: UpstreamPool(host, port, config.upstream_timeout_s) for name, (host, port) in config.upstreams.items()
        }
        self._tokens = 0
        self._held = bytearray()  # memory held on request (`/admin/memory`)
        self.attempts: AttemptReporter | None = None  # set by `serve` once the port is known

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
                return 405, json_body({"error": "method not allowed"}), "application/json"
            return 404, json_body({"error": "not found", "path": path}), "application/json"
        if self.mode == "hang":
            return self._hang_then(req, route)
        return self._serve(req, route)

    def _probe(self, req: Request) -> Response | Awaitable[Response]:
        if self.probes_affected and self.mode == "hang":
            return self._hang_then(req, None)
        if self.probes_affected and self.mode == "fail":
            return (
                self.fail_status,
                json_body({"status": "failing", "service": self.config.service}),
                "application/json",
            )
        return 200, json_body({"status": "ok", "service": self.config.service}), "application/json"

    async def _hang_then(self, req: Request, route: Route | None) -> Response:
        try:
            await asyncio.wait_for(self.recovered.wait(), HANG_CAP_S)
        except TimeoutError:
            return 504, json_body({"error": "hung"}), "application/json"
        result = self._serve(req, route) if route is not None else self._probe(req)
        if isinstance(result, tuple):
            return result
        return await result

    def _serve(self, req: Request, route: Route) -> Response | Awaitable[Response]:
        if self.mode == "fail":
            return self.fail_status, json_body({"error": "injected failure"}), "application/json"
        if route.name != "/api/v1/auth/login" and route.name != "/health":
            auth = req.headers.get("authorization", "")
            if not auth.startswith("Bearer "):
                return 401, json_body({"error": "missing bearer token"}), "application/json"
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
                return 504, json_body({"error": "upstream timeout"}), "application/json"
            except (OSError, ValueError, asyncio.IncompleteReadError):
                return 502, json_body({"error": "upstream unreachable"}), "application/json"
            if status >= 500:
                return 502, json_body({"error": f"upstream status {status}"}), "application/json"
            if status >= 400:
                return status, json_body({"error": f"upstream status {status}"}), "application/json"
        return self._body(route, req)

    def _body(self, route: Route, req: Request) -> Response:
        name = route.name
        svc = self.config.service
        if name in ("/api/v1/auth/login", "/api/v1/auth/refresh"):
            self._tokens += 1
            tok = f"standin-{svc}-{self._tokens}"
            return (
                200,
                json_body(
                    {"access_token": tok, "refresh_token": "r-" + tok, "token_type": "bearer", "expires_in": 900}
                ),
                "application/json",
            )
        if name == "/api/v1/chat/completions":
            return (
                200,
                json_body(
                    {"id": f"chat-{self._tokens}", "choices": [{"message": {"role": "assistant", "content": "ok"}}]}
                ),
                "application/json",
            )
        if name == "/api/v1/knowledge/search":
            results = [{"id": "doc-1", "score": 0.9}, {"id": "doc-2", "score": 0.7}]
            return 200, json_body({"results": results}), "application/json"
        if name == "/api/v1/subscriptions/[user]":
            user = req.path.rsplit("/", 1)[-1]
            return 200, json_body({"user": user, "plan": "pro", "active": True}), "application/json"
        if name == "/api/v1/analytics/events":
            return 202, json_body({"accepted": True}), "application/json"
        return 200, json_body({"status": "ok", "service": svc}), "application/json"

    def _admin(self, req: Request) -> Response:
        action = req.path[len("/admin/") :]
        query = parse_qs(urlsplit(req.target).query)
        if action == "state" and req.method == "GET":
            return 200, self._state(), "application/json"
        if req.method != "POST":
            return 405, json_body({"error": "admin actions are POST"}), "application/json"
        probes = query.get("probes", ["0"])[0] in ("1", "true", "yes")
        if action == "fail":
            try:
                status = int(query.get("status", ["503"])[0])
            except ValueError:
                status = 0
            if not 500 <= status <= 599:
                return 400, json_body({"error": "status must be a 5xx code"}), "application/json"
            self.mode, self.fail_status, self.probes_affected = "fail", status, probes
            self.recovered.set()
        elif action == "hang":
            self.mode, self.probes_affected = "hang", probes
            self.recovered.clear()
        elif action == "recover":
            self.mode, self.probes_affected = "ok", False
            self.recovered.set()
        elif action == "memory":
            try:
                mib = int(query.get("mib", [""])[0])
            except ValueError:
                mib = -1
            if not 0 <= mib <= MAX_HELD_MIB:
                return 400, json_body({"error": f"mib must be 0..{MAX_HELD_MIB}"}), "application/json"
            self._hold(mib)
        else:
            return 404, json_body({"error": f"unknown admin action {action!r}"}), "application/json"
        return 200, self._state(), "application/json"

    def _hold(self, mib: int) -> None:
        """Hold `mib` MiB, every page written so that it is resident (0 gives the memory back)."""
        self._held = bytearray()
        if mib:
            held = bytearray(mib * 1024 * 1024)
            held[::PAGE] = b"\x01" * len(range(0, len(held), PAGE))
            self._held = held

    def _state(self) -> bytes:
        return json_body(
            {
                "service": self.config.service,
                "mode": self.mode,
                "fail_status": self.fail_status,
                "probes_affected": self.probes_affected,
                "inflight": self.metrics.inflight,
                "held_mib": len(self._held) // (1024 * 1024),
                "environment": self.config.platform.environment if self.config.platform else None,
                "log_level": self.config.platform.log_level if self.config.platform else None,
                "feature_flags": list(self.config.platform.feature_flags) if self.config.platform else None,
            }
        )


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
    if config.attempt_log_port:
        app.attempts = AttemptReporter(config.attempt_log_port, f"{config.host}:{port}")
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
        if app.attempts is not None:
            app.attempts.close()
