"""A VirtualService's weighted split over DestinationRule subsets on the local proxy, with real HAProxy
and stand-in processes (no cluster): each subset is a pool of its own, picked per request by weight,
with its own outlier detection, as Envoy's weighted clusters are."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aideon_resilience.adapters.dataplane.mesh_rules import mesh_from
from aideon_resilience.adapters.dataplane.outlier_control import OutlierControl
from aideon_resilience.adapters.dataplane.proxy import HAProxy, backend_status, free_port, runtime_command
from aideon_resilience.adapters.dataplane.proxy_config import ProxySettings, backend_name
from aideon_resilience.adapters.dataplane.request_log import REQUEST_LOG_FORMAT, RequestLog
from aideon_resilience.adapters.dataplane.state import EJECTIONS_NAME
from tests.adapters.dataplane.test_proxy import _admin, _get, serving
from tests.adapters.dataplane.test_traffic_split import DR, _dest, _vs

GATEWAY = "api-gateway"
V1, V2 = "api-gateway.v1", "api-gateway.v2"


class SplitPlane:
    """HAProxy, request log and outlier thread over the 90/10 split, wired as the supervisor does."""

    def __init__(self, workdir: Path, standins: list[int], requests: RequestLog) -> None:
        self.mesh = mesh_from({GATEWAY: DR}, {GATEWAY: _vs(_dest("v1", 90), _dest("v2", 10))})
        self.requests = requests
        requests.read(0)  # what an earlier test's plane left unread
        self.haproxy = HAProxy(workdir / "hp", ProxySettings(timeout_server_s=1.0),
                               request_log=(self.requests.port, REQUEST_LOG_FORMAT))  # fmt: skip
        self.port = free_port()
        self.events = workdir / EJECTIONS_NAME
        self.outlier = OutlierControl(self.haproxy, self.events, self.requests)
        proxies = self.mesh.proxies({GATEWAY: self.port})
        self.haproxy.start(proxies)
        for svc in proxies:
            self.outlier.configure(svc.service, svc.policy)
        hosts = [("127.0.0.1", p) for p in standins]
        labels = {hosts[0]: {"version": "v1"}, hosts[1]: {"version": "v1"}, hosts[2]: {"version": "v2"}}
        for pool, addrs in self.mesh.pool_backends({GATEWAY: hosts}, labels).items():
            if not pool.startswith(GATEWAY):
                continue  # the other services have no frontend here
            self.haproxy.set_backends(pool, addrs)
            self.outlier.set_hosts(pool, addrs)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.outlier.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def sessions(self, pool: str) -> int:
        """Requests the pool's backend has taken (HAProxy's `stot` of its BACKEND row)."""
        rows = runtime_command(self.haproxy.sock, "show stat").splitlines()
        header = rows[0].lstrip("# ").split(",")
        for row in rows[1:]:
            cells = dict(zip(header, row.split(","), strict=False))
            if cells.get("pxname") == backend_name(pool) and cells.get("svname") == "BACKEND":
                return int(cells["stot"])
        raise AssertionError(f"no backend {pool}")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.haproxy.stop()


@pytest.fixture()
def plane(tmp_path: Path, standins: list[int], attempts: RequestLog) -> Iterator[SplitPlane]:
    with serving(SplitPlane(tmp_path, standins, attempts), standins) as p:
        yield p


def test_requests_are_split_by_the_routes_weights(plane: SplitPlane) -> None:
    codes = [_get(plane.port) for _ in range(600)]
    assert set(codes) == {200}
    v1, v2 = plane.sessions(V1), plane.sessions(V2)
    assert v1 + v2 == 600 and plane.sessions(GATEWAY) == 0  # the whole-service pool gets no route
    assert 0.05 <= v2 / 600 <= 0.16, (v1, v2)  # 10 % (binomial, n=600: 3 sd is 3.7 points)


def test_each_subset_has_its_own_outlier_detection(plane: SplitPlane, standins: list[int]) -> None:
    # v2's own policy (2 consecutive 5xx, maxEjectionPercent 100) ejects its only host; with Istio's
    # panic threshold of 0 its share then meets no healthy upstream (503), as on the mesh, while v1
    # keeps both hosts
    _admin(standins[2], "fail?status=500")  # not retried by Istio's default policy (503 is)
    codes = [_get(plane.port) for _ in range(400)]
    assert backend_status(plane.haproxy.sock, V2) == {standins[2]: "DOWN"}
    assert set(backend_status(plane.haproxy.sock, V1).values()) == {"UP"}
    snap = plane.outlier.snapshot()
    assert snap[V2]["ejected"] == [f"127.0.0.1:{standins[2]}"] and snap[V1]["ejected"] == []
    failed = [c for c in codes if c != 200]
    assert 0.04 <= len(failed) / 400 <= 0.18, codes  # v2's share keeps failing: 500s, then 503s
    assert 503 in failed
    # the proxy's count per pool: every failure v2's, none v1's, the 503s after the ejection with no host
    traffic = _pool_traffic(plane)
    assert traffic[V2]["errors"] == len(failed) and traffic[V1]["errors"] == 0, traffic
    assert traffic[V1]["responses"] + traffic[V2]["responses"] == 400, traffic
    assert 0 < traffic[V2]["no_host"] < len(failed), traffic


def _pool_traffic(plane: SplitPlane, timeout: float = 10.0) -> dict[str, dict[str, int]]:
    """The `pool_traffic` lines summed per pool, once the outlier thread has read every logged response."""
    deadline = time.monotonic() + timeout
    while True:
        plane.outlier.next_flush = 0.0  # flush at the thread's next step
        time.sleep(0.3)
        sums: dict[str, dict[str, int]] = {}
        for line in plane.events.read_text().splitlines() if plane.events.is_file() else []:
            rec = json.loads(line)
            if rec["kind"] == "pool_traffic":
                pool = sums.setdefault(rec["service"], {"responses": 0, "errors": 0, "no_host": 0})
                for key in pool:
                    pool[key] += rec[key]
        if sum(p["responses"] for p in sums.values()) >= 400 or time.monotonic() > deadline:
            return sums
