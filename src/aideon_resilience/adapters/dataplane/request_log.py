"""What the local proxy's pools answered, on one loopback UDP socket: HAProxy's per-request log and
each stand-in's report of its own attempts.

- **HAProxy** sends one datagram per request (`log 127.0.0.1:<port> format raw local0 info info` and
  the log format `REQUEST_LOG_FORMAT`: backend, server address, status, termination state) once the
  response is complete, timeouts and HAProxy's own 502/503/504 for a server included: what the
  client got (`source` "proxy"). A request HAProxy had no server for (the pool had no usable one:
  its own 503, Envoy's "no healthy upstream") has no server address (`-`, or `<NOSRV>`): it is
  kept, with the server None. A line with no status (client gone) is left out. HAProxy logs a
  request once, with its last attempt; the termination state tells whether HAProxy answered for
  the server (`proxy_made`: the server refused, reset or timed out before its response headers,
  `S`/`s` then `C`/`H`) or passed the server's own response on.
- **Stand-ins** send one datagram per response they give a request the proxy forwarded
  (`standin.attempt_report`): every attempt, retried ones included (`source` "server").

Envoy's outlier detection counts every attempt a host answers; the outlier thread therefore feeds
its detectors the stand-ins' attempts and, of HAProxy's lines, only those HAProxy answered for a
server (a server's own response is already in its report). Loopback UDP does not reorder one
sender's datagrams; it can drop datagrams when the reader falls more than the socket buffer (4 MiB
asked) behind.
"""

from __future__ import annotations

import contextlib
import select
import socket
from typing import Literal, NamedTuple

from aideon_resilience.adapters.dataplane.outlier_detector import Host
from aideon_resilience.adapters.dataplane.proxy_config import LOOPBACK
from aideon_resilience.adapters.standin.attempt_report import ATTEMPT_TAG

TAG = "aideon-request"
REQUEST_LOG_FORMAT = f"{TAG} %b %si:%sp %ST %tsc"
_BUFFER = 4 * 1024 * 1024
_NO_SERVER = ("", "-", "<NOSRV>")


class Response(NamedTuple):
    """One answer of a pool: HAProxy's to the client (`proxy`), or a stand-in's to one attempt (`server`)."""

    backend: str
    server: Host | None  # None: HAProxy had no server for it
    status: int
    source: Literal["proxy", "server"] = "proxy"
    proxy_made: bool = False  # a proxy line whose status HAProxy gave for the server (refused, reset, timeout)


def _server(text: str) -> Host | Literal[False] | None:
    """`127.0.0.1:4001` -> ("127.0.0.1", 4001); no server -> None; malformed -> False."""
    host, _, port = text.rpartition(":")
    if text in _NO_SERVER or host in _NO_SERVER:
        return None
    try:
        port_n = int(port)
    except ValueError:
        return False
    return (host, port_n) if port_n > 0 else False


def parse_line(data: bytes | str) -> Response | None:
    """`aideon-request be_api-gateway 127.0.0.1:4001 503 SC` -> a proxy line, HAProxy's own 503;
    `aideon-attempt be_api-gateway 127.0.0.1:4001 503` -> a stand-in's attempt; None otherwise."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    parts = text.split()
    if len(parts) == 5 and parts[0] == TAG:
        source: Literal["proxy", "server"] = "proxy"
    elif len(parts) == 4 and parts[0] == ATTEMPT_TAG:
        source = "server"
    else:
        return None
    try:
        status = int(parts[3])
    except ValueError:
        return None
    server = _server(parts[2])
    if status <= 0 or server is False or (server is None and source == "server"):
        return None
    state = parts[4] if source == "proxy" else "--"
    made = server is not None and len(state) >= 2 and state[0] in "sS" and state[1] in "CH"
    return Response(parts[1], server, status, source, made)


class RequestLog:
    """The receiving end: a UDP socket on 127.0.0.1 (its port goes into haproxy.cfg and the
    stand-ins' environment)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
        self.sock.bind((LOOPBACK, 0))
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]

    def read(self, timeout: float) -> list[Response]:
        """What arrived, waiting up to `timeout` seconds for the first datagram."""
        out: list[Response] = []
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return out
        while True:
            try:
                data = self.sock.recv(2048)
            except BlockingIOError:
                return out
            parsed = parse_line(data)
            if parsed is not None:
                out.append(parsed)

    def close(self) -> None:
        self.sock.close()
