"""A stand-in's report of every response it gives the local proxy: one UDP datagram per attempt.

HAProxy logs a request once, with its last attempt; Envoy's outlier detection counts every attempt
a host answers, retried ones included. So each stand-in reports its own answers to the data plane's
outlier thread (`dataplane.request_log`): `aideon-attempt <backend> <host>:<port> <status>`, sent
to 127.0.0.1:`AIDEON_ATTEMPT_LOG_PORT` as the response is written. Only requests the proxy
forwarded are reported: HAProxy sets `POOL_HEADER` to the backend (pool) that chose this stand-in,
so health checks, Prometheus scrapes and direct calls are not attempts. A response to a connection
the proxy already gave up on (its server timeout) is not reported either: the proxy answered that
attempt itself (docs/dataplane.md says when such an attempt is counted). Sending never blocks or
fails the request; a lost datagram is lost.
"""

from __future__ import annotations

import contextlib
import socket

ATTEMPT_TAG = "aideon-attempt"
POOL_HEADER = "x-aideon-pool"  # lower case: the stand-in's parser lower-cases header names
LOOPBACK = "127.0.0.1"


def attempt_line(backend: str, own: str, status: int) -> bytes:
    """`aideon-attempt be_api-gateway 127.0.0.1:4001 503`."""
    return f"{ATTEMPT_TAG} {backend} {own} {status}".encode()


class AttemptReporter:
    """Sends a stand-in's attempts to the data plane (loopback only: the port is all it is given)."""

    def __init__(self, port: int, own: str) -> None:
        self.addr = (LOOPBACK, port)
        self.own = own  # the stand-in's listen address, as the proxy's server line names it
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    def report(self, backend: str, status: int) -> None:
        if not backend or any(c.isspace() for c in backend):
            return
        with contextlib.suppress(OSError):  # the data plane gone, its buffer full: the request is not hurt
            self.sock.sendto(attempt_line(backend, self.own, status), self.addr)

    def close(self) -> None:
        self.sock.close()
