"""HTTP/1.1 of the stand-in: the request, a hand-written keep-alive parser on `asyncio.Protocol`.

The parser keeps the per-request cost small so the stand-in is not the bottleneck of the load it
serves (see benchmarks/README.md). What a request gets as an answer is the `Handler`'s business
(`server.Standin`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from aideon_resilience.adapters.standin.attempt_report import POOL_HEADER, AttemptReporter
from aideon_resilience.adapters.standin.metrics import Metrics
from aideon_resilience.core.profiles import match_route

MAX_HEAD = 64 * 1024
MAX_BODY = 4 * 1024 * 1024

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


def json_body(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class Handler(Protocol):
    """What `HttpProtocol` serves: an answer to each request, and the counters it keeps."""

    metrics: Metrics
    attempts: AttemptReporter | None

    def handle(self, req: Request) -> Response | Awaitable[Response]: ...


def route_label(req: Request) -> str:
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

    def __init__(self, app: Handler) -> None:
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
        self._write(status, json_body({"error": _REASONS.get(status, "error")}), "application/json", False)
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
            result: Response = (503, json_body({"error": "shutting down"}), "application/json")
        elif task.exception() is not None:
            result = (500, json_body({"error": "internal error"}), "application/json")
        else:
            result = task.result()
        self._finish(req, result, keep, started)
        if not self.closing:
            self._process()

    def _finish(self, req: Request, result: Response, keep: bool, started: float) -> None:
        status, body, ctype = result
        self.app.metrics.observe(route_label(req), status, time.perf_counter() - started)
        if self.transport is not None and self.app.attempts is not None and POOL_HEADER in req.headers:
            self.app.attempts.report(req.headers[POOL_HEADER], status)  # the proxy still waits for it
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
