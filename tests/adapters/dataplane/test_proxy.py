"""HAProxy of the data plane with real stand-in processes, without the cluster (loopback only).

The outlier tests wire HAProxy, its request log and the outlier thread as the supervisor does
(`supervisor.DataPlane`), with small times (interval 0.5 s, baseEjectionTime 1.5 s).
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from aideon_resilience.adapters.dataplane.outlier_control import OutlierControl
from aideon_resilience.adapters.dataplane.proxy import HAProxy, backend_status, free_port, runtime_command
from aideon_resilience.adapters.dataplane.proxy_config import (
    DEFAULT_RETRIES,
    BackendRetries,
    OutlierPolicy,
    ProxySettings,
    ServiceProxy,
)
from aideon_resilience.adapters.dataplane.request_log import REQUEST_LOG_FORMAT, RequestLog
from aideon_resilience.adapters.dataplane.route_retries import RetryPolicy
from aideon_resilience.adapters.dataplane.state import EJECTIONS_NAME, dataplane_events
from aideon_resilience.adapters.localcluster import ClusterPaths
from aideon_resilience.adapters.standin.process import running_standin
from tests.adapters.localcluster.kubehelpers import wait_for

ROUTE = "/api/v1/subscriptions/u1"  # no upstream configured: answered by the gateway stand-in itself


GATEWAY = "api-gateway"
POLICY = OutlierPolicy(3, interval_s=0.5, base_ejection_s=1.5, max_ejection_percent=50, source="test")


class Plane:
    """HAProxy + request log + outlier thread, wired as the supervisor wires them."""

    def __init__(self, workdir: Path, policy: OutlierPolicy, standins: list[int], requests: RequestLog,
                 retries: BackendRetries = DEFAULT_RETRIES) -> None:
        self.requests = requests
        requests.read(0)  # what an earlier test's plane left unread
        self.haproxy = HAProxy(workdir / "hp", ProxySettings(timeout_server_s=1.0),
                               request_log=(self.requests.port, REQUEST_LOG_FORMAT))  # fmt: skip
        self.port = free_port()
        self.events = workdir / EJECTIONS_NAME
        self.outlier = OutlierControl(self.haproxy, self.events, self.requests)
        self.stop = threading.Event()
        self.haproxy.start([ServiceProxy(GATEWAY, self.port, policy, retries=retries)])
        self.outlier.configure(GATEWAY, policy)
        hosts = [("127.0.0.1", p) for p in standins]
        self.haproxy.set_backends(GATEWAY, hosts)
        self.outlier.set_hosts(GATEWAY, hosts)
        self.thread = threading.Thread(target=self.outlier.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.haproxy.stop()

    def lines(self) -> list[dict[str, object]]:
        """The ejection lines (the pool_traffic lines beside them are another test's)."""
        if not self.events.is_file():
            return []
        lines = [json.loads(ln) for ln in self.events.read_text().splitlines()]
        return [line for line in lines if line["kind"] == "ejection"]


class Closing(Protocol):
    def close(self) -> None: ...


P = TypeVar("P", bound=Closing)


@contextlib.contextmanager
def serving(plane: P, standins: list[int]) -> Iterator[P]:
    """The plane until the test ends, then closed and every stand-in recovered."""
    try:
        yield plane
    finally:
        plane.close()
        for port in standins:
            _admin(port, "recover")


@pytest.fixture()
def plane(request: pytest.FixtureRequest, tmp_path: Path, standins: list[int],
          attempts: RequestLog) -> Iterator[Plane]:
    with serving(Plane(tmp_path, getattr(request, "param", POLICY), standins, attempts), standins) as p:
        yield p


@pytest.fixture()
def proxy(plane: Plane) -> tuple[HAProxy, int]:
    return plane.haproxy, plane.port


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


class Client:
    """Requests one after the other to the gateway frontend, each with its time and status."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.results: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.results.append((time.time(), _get(self.port)))
            time.sleep(0.005)

    def __enter__(self) -> Client:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def test_failing_backend_is_ejected_returns_after_base_and_is_ejected_again_for_twice_as_long(
    plane: Plane, standins: list[int]
) -> None:
    failing = standins[0]
    backend = f"127.0.0.1:{failing}"
    assert backend_status(plane.haproxy.sock, GATEWAY) == {p: "UP" for p in standins}
    started = time.time()
    with Client(plane.port) as client:
        _admin(failing, "fail?status=500")  # 500 on requests (no retry by Istio's default); /ready still answers
        wait_for("a second return", lambda: sum(1 for e in plane.lines() if e["state"] == "up") >= 2,
                 timeout=20, interval=0.1)  # fmt: skip
        ejected_now = backend_status(plane.haproxy.sock, GATEWAY)[failing]
    downs = [e for e in plane.lines() if e["state"] == "down"]
    ups = [e for e in plane.lines() if e["state"] == "up"]
    assert [(e["backend"], e["ejection"], e["ejection_s"]) for e in downs[:2]] == [(backend, 1, 1.5), (backend, 2, 3.0)]
    assert all(e["reason"] == "consecutive_5xx" and e["panic"] is False for e in downs)
    # back at the first interval sweep after the ejection time: base x 1, then base x 2
    first_out, second_out = (float(e["ejected_s"]) for e in ups[:2])  # type: ignore[arg-type]
    assert 1.5 <= first_out <= 1.5 + 0.5 + 0.3
    assert 3.0 <= second_out <= 3.0 + 0.5 + 0.3
    # measured from the events' own clock too, as the evaluator sees them
    assert float(ups[0]["t"]) - float(downs[0]["t"]) == pytest.approx(first_out, abs=0.3)  # type: ignore[arg-type]
    assert float(ups[1]["t"]) - float(downs[1]["t"]) == pytest.approx(second_out, abs=0.3)  # type: ignore[arg-type]
    assert ejected_now in ("DOWN", "UP")  # the third ejection may or may not have happened yet
    # while out, no request reached it: the errors of each admission are its 3 consecutive 5xx
    # (plus what was in flight when the log line arrived)
    bounds = [started, *(float(e["t"]) for e in downs[:2])]  # type: ignore[arg-type]
    for lo, hi in itertools.pairwise(bounds):
        errors = [c for t, c in client.results if lo <= t <= hi and c != 200]
        assert 3 <= len(errors) <= 6, errors
    out = [c for t, c in client.results if float(downs[0]["t"]) + 0.05 <= t <= float(ups[0]["t"]) - 0.05]  # type: ignore[arg-type]
    assert out and all(c == 200 for c in out)
    # what the gate reads back
    events = dataplane_events(ClusterPaths(root=plane.events.parent), started - 1, time.time() + 1, plane.events.parent)
    ejections = [(e.backend, e.state) for e in events if e.kind == "ejection"]  # type: ignore[attr-defined]
    assert ejections[:4] == [(backend, "down"), (backend, "up")] * 2


@pytest.mark.parametrize(
    ("retries", "status"),
    [
        (DEFAULT_RETRIES, "503"),  # Istio's default policy: 503 and connect failures
        (RetryPolicy(2, ("5xx", "reset", "connect-failure"), (), 1.0, "t").backend_retries(), "500"),  # the manifests'
    ],
    ids=["istio-default-503", "route-5xx-500"],
)
def test_retries_send_a_failing_hosts_requests_elsewhere_and_its_attempts_still_eject_it(
    tmp_path: Path, standins: list[int], attempts: RequestLog, retries: BackendRetries, status: str
) -> None:
    """The route retries the failing host's answers on another host, so the clients see none of
    them; outlier detection counts every attempt (the stand-ins' reports), as Envoy does, and ejects
    it all the same. Without the reports the detector would see only the retried requests' last
    attempts, all 200."""
    failing = standins[0]
    with serving(Plane(tmp_path, POLICY, standins, attempts, retries), standins) as plane, Client(plane.port) as client:
        _admin(failing, f"fail?status={status}")
        wait_for("the ejection", lambda: any(e["state"] == "down" for e in plane.lines()), timeout=10, interval=0.1)
        time.sleep(0.5)
    assert [(e["backend"], e["reason"]) for e in plane.lines() if e["state"] == "down"][:1] == [
        (f"127.0.0.1:{failing}", "consecutive_5xx")]
    codes = [c for _, c in client.results]
    assert len(codes) > 20 and set(codes) == {200}, codes
    traffic = [json.loads(ln) for ln in plane.events.read_text().splitlines()]
    traffic = [t for t in traffic if t["kind"] == "pool_traffic"]
    if traffic:  # a 5 s period may have ended: the hosts' answers outnumber the clients' by the retries
        assert all(t["errors"] == 0 for t in traffic) and all(t["attempts"] >= t["responses"] for t in traffic)


def test_max_ejection_percent_is_enforced_before_ejecting(plane: Plane, standins: list[int]) -> None:
    # 50 % of 3 backends: one may be out (33 %), a second (67 %) is refused before it goes
    with Client(plane.port) as client:
        _admin(standins[0], "fail?status=500")
        _admin(standins[1], "fail?status=500")
        wait_for("a refused ejection", lambda: plane.outlier.snapshot()[GATEWAY]["overflows"] >= 1,
                 timeout=10, interval=0.1)  # fmt: skip
        states = [backend_status(plane.haproxy.sock, GATEWAY) for _ in range(5) if not time.sleep(0.1)]
    assert all(sorted(s.values()) == ["DOWN", "UP", "UP"] for s in states), states
    downs = [e for e in plane.lines() if e["state"] == "down"]
    assert len({e["backend"] for e in downs}) == 1
    assert any(c != 200 for _, c in client.results[-20:])  # the refused one keeps failing requests
    # every refusal is evidence too: the gate names them when no ejection happened
    refused = [e for e in plane.lines() if e["state"] == "refused"]
    assert refused and {e["backend"] for e in refused}.isdisjoint({e["backend"] for e in downs})
    assert {e["reason"] for e in refused} == {"consecutive_5xx"}
    events = dataplane_events(ClusterPaths(root=plane.events.parent), 0, time.time() + 1, plane.events.parent)
    assert "refused" in {e.state for e in events}  # type: ignore[attr-defined]


def test_an_ejected_backend_stays_out_across_a_reload_and_a_new_host_in_its_slot_is_in(
    plane: Plane, standins: list[int]
) -> None:
    bad, others = standins[0], standins[1:]
    _admin(bad, "fail?status=500")

    def ejected() -> bool:
        _get(plane.port)  # leastconn spreads sequential requests: the bad one gets every third
        return backend_status(plane.haproxy.sock, GATEWAY).get(bad) == "DOWN"

    wait_for("the ejection", ejected, timeout=5, interval=0.01)
    plane.haproxy.reload()
    assert backend_status(plane.haproxy.sock, GATEWAY) == {bad: "DOWN", **{p: "UP" for p in others}}
    # the pod goes away (its slot emptied) and the slot is given to another host: that one is in
    remaining = [("127.0.0.1", p) for p in others]
    plane.haproxy.set_backends(GATEWAY, remaining)
    plane.outlier.set_hosts(GATEWAY, remaining)
    plane.haproxy.set_backends(GATEWAY, [("127.0.0.1", others[0])])
    plane.haproxy.set_backends(GATEWAY, [("127.0.0.1", others[0]), ("127.0.0.1", bad)])
    plane.outlier.set_hosts(GATEWAY, [("127.0.0.1", others[0]), ("127.0.0.1", bad)])
    status = {p: st for p, st in backend_status(plane.haproxy.sock, GATEWAY).items() if st != "MAINT"}
    assert status == {others[0]: "UP", bad: "UP"}  # a fresh host, not ejected (its slot forced up again)


@pytest.mark.parametrize(
    "plane",
    [OutlierPolicy(3, 0.5, base_ejection_s=30.0, max_ejection_percent=100, source="t", min_health_percent=50)],
    indirect=True,
)
def test_panic_below_min_health_percent_routes_to_all_backends(plane: Plane, standins: list[int]) -> None:
    with Client(plane.port):
        _admin(standins[0], "fail")
        wait_for("one ejection", lambda: len(plane.lines()) >= 1, timeout=10, interval=0.1)
        assert sorted(backend_status(plane.haproxy.sock, GATEWAY).values()) == ["DOWN", "UP", "UP"]
        _admin(standins[1], "fail")
        wait_for("two ejections", lambda: len(plane.lines()) >= 2, timeout=10, interval=0.1)
        time.sleep(0.2)
        # 1 healthy of 3 is 33 % < 50 %: panic, every backend takes traffic again, ejected ones included
        assert plane.outlier.snapshot()[GATEWAY]["panic"] is True
        assert backend_status(plane.haproxy.sock, GATEWAY) == {p: "UP" for p in standins}
        _admin(standins[1], "recover")
    assert [e["panic"] for e in plane.lines() if e["state"] == "down"][:2] == [False, True]


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


def _slots_in_service(h: HAProxy, service: str) -> dict[int, int]:
    """Slot -> port of the servers HAProxy itself has in service (not in maintenance)."""
    out = runtime_command(h.sock, f"show servers state be_{service}")
    header: list[str] = []
    found: dict[int, int] = {}
    for line in out.splitlines():
        if line.startswith("# "):
            header = line[2:].split()
        elif header and len(line.split()) >= len(header):
            row = dict(zip(header, line.split(), strict=False))
            if not int(row["srv_admin_state"]) & 0x23:
                found[int(row["srv_name"].removeprefix("s"))] = int(row["srv_port"])
    return found


def test_a_reload_keeps_each_server_in_the_slot_the_supervisor_gave_it(tmp_path: Path) -> None:
    """A reload while slot 1 is free: afterwards HAProxy's slots are exactly the assigned ones, so a
    host taken out later is out. (The replay once reached the old process, which still answered on
    the socket path; the new one kept its state file's slots, and a removed host stayed in service
    where the supervisor no longer looked: 503s its outlier detection never saw.)"""
    with contextlib.ExitStack() as stack:
        procs = [stack.enter_context(running_standin(GATEWAY, "--latency-scale", "0")) for _ in range(3)]
        a, b, c = (("127.0.0.1", p.port) for p in procs)
        h = HAProxy(tmp_path / "hp", ProxySettings(timeout_server_s=1.0))
        stack.callback(h.stop)
        port = free_port()
        h.start([ServiceProxy(GATEWAY, port, POLICY)])
        h.set_backends(GATEWAY, [a, b, c])
        h.set_backends(GATEWAY, [b, c])
        h.reload()
        assert _slots_in_service(h, GATEWAY) == {slot: p for slot, (_, p) in h.assigned[GATEWAY].items()}
        h.set_backends(GATEWAY, [c])  # b's pod is gone, then its process
        procs[1].proc.terminate()
        procs[1].proc.wait(timeout=10)
        assert _slots_in_service(h, GATEWAY) == {3: c[1]}
        codes = [_get(port) for _ in range(30)]
        assert codes == [200] * 30, codes
