"""HAProxy's per-request log on a loopback UDP socket: which server answered and with what status.

HAProxy sends one datagram per request (`log 127.0.0.1:<port> format raw local0 info info` and the
log format `REQUEST_LOG_FORMAT`: backend, server address, status) once the response is complete,
timeouts and HAProxy's own 502/503/504 for a server included. The supervisor's outlier thread
reads them (`RequestLog.read`) and feeds the outlier detectors. A request with no server
(`<NOSRV>`) or no status (client gone) is left out. Loopback UDP does not reorder; it can drop
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

Response = tuple[str, Host, int]  # (backend, server, status)


def parse_line(data: bytes | str) -> Response | None:
    """`aideon-request be_api-gateway 127.0.0.1:4001 503` -> ("be_api-gateway", ("127.0.0.1", 4001), 503)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    parts = text.split()
    if len(parts) != 4 or parts[0] != TAG:
        return None
    host, _, port = parts[2].rpartition(":")
    try:
        port_n, status = int(port), int(parts[3])
    except ValueError:
        return None
    if not host or port_n <= 0 or status <= 0:
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
