"""HAProxy's per-request log on a loopback UDP socket: which server answered and with what status.

HAProxy sends one datagram per request (`log 127.0.0.1:<port> format raw local0 info info` and the
log format `REQUEST_LOG_FORMAT`: backend, server address, status) once the response is complete,
timeouts and HAProxy's own 502/503/504 for a server included. The supervisor's outlier thread
reads them (`RequestLog.read`), counts them per pool and feeds the outlier detectors. A request
HAProxy had no server for (the pool had no usable one: its own 503, Envoy's "no healthy
upstream") has no server address (`-`, or `<NOSRV>`): it is kept, with the server None, and never
reaches a detector. A line with no status (client gone) is left out. Loopback UDP does not reorder; it can drop
datagrams when the reader falls more than the socket buffer (4 MiB asked) behind.
"""

from __future__ import annotations

import contextlib
import select
import socket

from aideon_resilience.adapters.dataplane.outlier_detector import Host
from aideon_resilience.adapters.dataplane.proxy_config import LOOPBACK

TAG = "aideon-request"
REQUEST_LOG_FORMAT = f"{TAG} %b %si:%sp %ST"
_BUFFER = 4 * 1024 * 1024

Response = tuple[str, Host | None, int]  # (backend, server or None when HAProxy had none, status)
_NO_SERVER = ("", "-", "<NOSRV>")


def parse_line(data: bytes | str) -> Response | None:
    """`aideon-request be_api-gateway 127.0.0.1:4001 503` -> ("be_api-gateway", ("127.0.0.1", 4001), 503);
    `aideon-request be_api-gateway -:- 503` (no server) -> ("be_api-gateway", None, 503)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    parts = text.split()
    if len(parts) != 4 or parts[0] != TAG:
        return None
    try:
        status = int(parts[3])
    except ValueError:
        return None
    if status <= 0:
        return None
    host, _, port = parts[2].rpartition(":")
    if parts[2] in _NO_SERVER or host in _NO_SERVER:
        return parts[1], None, status
    try:
        port_n = int(port)
    except ValueError:
        return None
    if port_n <= 0:
        return None
    return parts[1], (host, port_n), status


class RequestLog:
    """The receiving end: a UDP socket on 127.0.0.1 (its port goes into haproxy.cfg)."""

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
