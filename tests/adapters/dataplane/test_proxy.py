"""HAProxy of the data plane with real stand-in processes, without the cluster (loopback only)."""

from __future__ import annotations

import http.client
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aideon_resilience.adapters.dataplane.proxy import HAProxy, backend_status, free_port
from aideon_resilience.adapters.dataplane.proxy_config import OutlierPolicy, ProxySettings, ServiceProxy
from aideon_resilience.adapters.dataplane.standin_processes import standin_command
from tests.adapters.localcluster.kubehelpers import wait_for

ROUTE = "/api/v1/subscriptions/u1"  # no upstream configured: answered by the gateway stand-in itself


@pytest.fixture(scope="module")
def standins() -> Iterator[list[int]]:
    ports = [free_port() for _ in range(3)]
    procs = [
        subprocess.Popen(
            [*standin_command(), "standin", "api-gateway", "--port", str(p), "--latency-scale", "0"],
            stdout=subprocess.DEVNULL,
        )
        for p in ports
    ]

    def listening(port: int) -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            return False

    try:
        for p in ports:
            wait_for(f"stand-in on {p}", lambda: listening(p), timeout=60, interval=0.2)  # noqa: B023
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


@pytest.fixture()
def proxy(tmp_path: Path, standins: list[int]) -> Iterator[tuple[HAProxy, int]]:
    h = HAProxy(tmp_path / "hp", ProxySettings(timeout_server_s=1.0))
    port = free_port()
    h.start([ServiceProxy("api-gateway", port, OutlierPolicy(3, 10.0, 20.0, 50, "test"))])
    try:
        h.set_backends("api-gateway", [("127.0.0.1", p) for p in standins])
        yield h, port
    finally:
        h.stop()
        for p in standins:
            _admin(p, "recover")


def _admin(port: int, action: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST", f"/admin/{action}")
    assert conn.getresponse().status == 200
    conn.close()


def _get(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", ROUTE, headers={"Authorization": "Bearer t"})
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


def test_consecutive_errors_eject_and_max_ejection_percent_caps(
    proxy: tuple[HAProxy, int], standins: list[int]
) -> None:
    h, port = proxy
    assert backend_status(h.sock, "api-gateway") == {p: "UP" for p in standins}
    for p in standins:
        _admin(p, "fail")
    for _ in range(30):
        _get(port)
    status = backend_status(h.sock, "api-gateway")
    assert sorted(status.values()) == ["DOWN", "DOWN", "DOWN"]  # HAProxy alone ejects them all
    restored = h.enforce_max_ejection("api-gateway")
    assert len(restored) == 1  # 50 % of 3: Envoy keeps at most 2 ejected
    status = backend_status(h.sock, "api-gateway")
    assert sorted(status.values()) == ["DOWN", "DOWN", "UP"]


def test_backends_change_and_reload_without_dropping_requests(proxy: tuple[HAProxy, int], standins: list[int]) -> None:
    h, port = proxy
    results: list[int] = []
    stop = threading.Event()

    def client() -> None:
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            results.append(_get(port))

    t = threading.Thread(target=client)
    t.start()
    try:
        time.sleep(0.3)
        h.set_backends("api-gateway", [("127.0.0.1", standins[0])])
        time.sleep(0.3)
        h.reload()
        time.sleep(0.3)
        h.set_backends("api-gateway", [("127.0.0.1", p) for p in standins])
        time.sleep(0.3)
    finally:
        stop.set()
        t.join()
    assert len(results) > 20
    assert all(code == 200 for code in results), [c for c in results if c != 200]
    assert backend_status(h.sock, "api-gateway") == {p: "UP" for p in standins}
