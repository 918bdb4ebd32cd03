"""Probes return JSON-serialisable evidence with an `ok` flag that can go either way."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from aideon_resilience.chaos.probes import (
    anti_affinity_held,
    client_slo,
    held,
    hpa_reaches,
    hpa_status,
    pdb_held,
    pdb_status,
    proxy_ejections,
    workload_ready,
)
from aideon_resilience.core.evidence.loadstats import WindowStat, write_windows
from tests.chaos.fakekube import FakeKube, pdb, pod
from tests.chaos.loopback import serve

NS = "aideon-backend"
APP = {"app.kubernetes.io/name": "api-gateway"}
SEL = "app.kubernetes.io/name=api-gateway"


def _ok(result: dict[str, object]) -> bool:
    json.dumps(result)
    assert held(result) is (result["ok"] is True)
    return bool(result["ok"])


def test_pdb_probes(fake: FakeKube) -> None:
    fake.policy.pdbs.append(pdb("api-gateway", NS, APP, healthy=2, desired=1))
    assert _ok(pdb_held(NS, "api-gateway", window=0.3, interval=0.1))
    assert _ok(pdb_status(NS))
    fake.policy.pdbs[0].status.current_healthy = 0
    out = pdb_held(NS, "api-gateway")
    assert not _ok(out) and out["min_margin"] == -1 and out["violations"][0]["name"] == "api-gateway"
    with pytest.raises(Exception, match="no PodDisruptionBudget aideon-backend/other"):
        pdb_held(NS, "other")


def test_anti_affinity(fake: FakeKube) -> None:
    fake.core.pods[(NS, "gw-1")] = pod("gw-1", NS, "node-a1", APP)
    fake.core.pods[(NS, "gw-2")] = pod("gw-2", NS, "node-b1", APP)
    fake.core.pods[(NS, "gw-3")] = pod("gw-3", NS, None, APP, phase="Pending")
    out = anti_affinity_held(NS, SEL, max_per_node=1, min_zones=2)
    assert _ok(out) and out["per_zone"] == {"zone-a": 1, "zone-b": 1} and out["pending"] == ["gw-3"]
    fake.core.pods[(NS, "gw-4")] = pod("gw-4", NS, "node-a1", APP)
    out = anti_affinity_held(NS, SEL, max_per_node=1)
    assert not _ok(out) and out["max_on_one_node"] == 2


def _hpa(current: int, desired: int, able: str = "True") -> SimpleNamespace:
    return SimpleNamespace(
        spec=SimpleNamespace(min_replicas=2, max_replicas=6),
        status=SimpleNamespace(
            current_replicas=current,
            desired_replicas=desired,
            conditions=[SimpleNamespace(type="AbleToScale", status=able, reason="ReadyForNewScale")],
        ),
    )


def test_hpa_probes(fake: FakeKube) -> None:
    fake.autoscaling.hpas[(NS, "api-gateway")] = _hpa(2, 2)
    assert _ok(hpa_status(NS, "api-gateway"))
    out = hpa_reaches(NS, "api-gateway", replicas=4, timeout=0.2, interval=0.1)
    assert not _ok(out) and out["seconds_to_reach"] is None
    fake.autoscaling.hpas[(NS, "api-gateway")] = _hpa(4, 4)
    out = hpa_reaches(NS, "api-gateway", replicas=4, timeout=1)
    assert _ok(out) and out["seconds_to_reach"] is not None
    fake.autoscaling.hpas[(NS, "api-gateway")] = _hpa(1, 2, able="False")
    assert not _ok(hpa_status(NS, "api-gateway"))


def test_workload_ready(fake: FakeKube) -> None:
    fake.apps.deployments[(NS, "api-gateway")] = SimpleNamespace(
        spec=SimpleNamespace(replicas=2), status=SimpleNamespace(ready_replicas=1, available_replicas=1)
    )
    assert not _ok(workload_ready(NS, "api-gateway"))
    assert _ok(workload_ready(NS, "api-gateway", min_ready=1))
    with pytest.raises(Exception, match="no Deployment aideon-backend/missing"):
        workload_ready(NS, "missing")


def _window(end: float, error_ratio: float, p95: float, endpoint: str = "Aggregated") -> WindowStat:
    return WindowStat(start=end - 5, end=end, endpoint=endpoint, users=10, requests=100,
                      failures=int(error_ratio * 100), rps=20, error_ratio=error_ratio, p95_ms=p95)  # fmt: skip


def test_client_slo_from_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIDEON_GATEWAY_URL", raising=False)
    monkeypatch.delenv("AIDEON_WINDOWS_FILE", raising=False)
    assert _ok(client_slo())  # no load configured: nothing to judge
    monkeypatch.setenv("AIDEON_GATEWAY_URL", "http://127.0.0.1:1")
    assert not _ok(client_slo())  # load configured but no windows
    path = tmp_path / "windows.jsonl"
    now = time.time()
    write_windows(path, [_window(now - 100, 0.5, 900), _window(now - 10, 0.0, 80), _window(now, 0.002, 95)])
    out = client_slo(str(path), max_error_ratio=0.01, max_p95_ms=200)
    assert not _ok(out) and len(out["breaches"]) == 1 and out["windows"] == 3
    assert _ok(client_slo(str(path), max_error_ratio=0.01, max_p95_ms=200, since_seconds=30))
    assert not _ok(client_slo(str(path), max_p95_ms=90, since_seconds=30))


HAPROXY_CSV = (
    "# pxname,svname,qcur,status,chkdown\n"
    "api-gateway,FRONTEND,0,OPEN,\n"
    "api-gateway,pod-1,0,UP,0\n"
    "api-gateway,pod-2,0,DOWN,2\n"
    "api-gateway,BACKEND,0,UP,0\n"
    "other,pod-9,0,UP,5\n"
)


def test_proxy_ejections_from_haproxy_stats() -> None:
    with serve({("GET", "/stats;csv"): (200, HAPROXY_CSV)}) as (url, _seen):
        out = proxy_ejections(url + "/stats;csv", backend="api-gateway", min_ejections=1)
        assert _ok(out) and out["ejections"] == 2 and out["down"] == ["pod-2"]
        assert not _ok(proxy_ejections(url + "/stats;csv", backend="api-gateway", min_ejections=3))
        assert not _ok(proxy_ejections(url + "/stats;csv", backend="api-gateway", max_down=0))


def test_proxy_ejections_from_prometheus() -> None:
    body = json.dumps({"status": "success", "data": {"result": [{"value": [0, "3"]}, {"value": [0, "1"]}]}})
    route = ("GET", "/api/v1/query?query=sum%28ejections%29")
    with serve({route: (200, body)}) as (url, _seen):
        out = proxy_ejections(prometheus_url=url, query="sum(ejections)", min_ejections=4)
        assert _ok(out) and out["ejections"] == 4.0
        assert not _ok(proxy_ejections(prometheus_url=url, query="sum(ejections)", min_ejections=5))


def test_proxy_probe_refuses_non_loopback() -> None:
    with pytest.raises(Exception, match="not a loopback address"):
        proxy_ejections("http://192.0.2.1/stats;csv")
