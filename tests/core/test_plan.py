from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from aideon_resilience.cli.main import main
from aideon_resilience.core.plan import capacity as pl
from aideon_resilience.core.profiles import PROFILES, replica_rps, service_rps_per_user
from aideon_resilience.errors import InputFileError

CAP = pl.WorkerCapacity(
    users_per_worker=10_000, rps_per_worker=2_000, memory_per_user_kib=24, worker_base_memory_mib=80
)
CLUSTER = pl.ClusterBounds("test", nodes=12, node_cpu_millis=8000)


def _bounds(max_gateway: int, anti: bool = False, nodes_big: bool = True) -> list[pl.ServiceBounds]:
    out = []
    for name in PROFILES:
        out.append(
            pl.ServiceBounds(
                name=name,
                cpu_request_millis=1000,
                min_replicas=2,
                max_replicas=max_gateway if name == "api-gateway" else 100_000,
                target_utilization=0.7,
                required_anti_affinity=anti and name == "api-gateway",
            )
        )
    return out


def test_gateway_hpa_max_caps_users_and_says_so() -> None:
    users = 1_000_000
    result = pl.make_plan(users, CAP, _bounds(10), pl.ClusterBounds("test", 100_000, 8000))
    per_user = service_rps_per_user()["api-gateway"]
    cap_rps = replica_rps(PROFILES["api-gateway"], 1000, 0.7)
    expected_cap = int(10 * cap_rps / per_user)
    needed = math.ceil(users * per_user / cap_rps)
    gw = next(s for s in result.services if s.name == "api-gateway")
    assert gw.replicas_needed == needed and not gw.reaches
    assert result.reachable_users == expected_cap
    assert not result.reaches
    assert (
        f"api-gateway: needs {needed:,} replicas, HPA maxReplicas is 10 → caps at {expected_cap:,} users"
        in result.limits()
    )
    assert result.workers_needed == 100
    assert "cannot reach 1,000,000 users" in pl.render_text(result)


def test_generous_bounds_reach_the_target() -> None:
    result = pl.make_plan(50_000, CAP, _bounds(100_000), pl.ClusterBounds("test", 10_000, 8000))
    assert result.reaches and result.limits() == []
    assert result.reachable_users == 50_000
    assert "can reach 50,000 users" in pl.render_text(result)
    json.dumps(pl.to_json(result))  # serialisable


def test_zone_loss_maxima_headroom_and_sources_are_reported() -> None:
    bounds = _bounds(100_000)
    result = pl.make_plan(50_000, CAP, bounds, pl.ClusterBounds("test", 10, 8000, zones=3))
    assert result.nodes_after_zone_loss == 6  # the largest zone (4 nodes) lost
    assert result.pods_at_maxima == sum(b.max_replicas for b in bounds)
    assert result.cpu_millis_at_maxima == sum(b.max_replicas * b.cpu_request_millis for b in bounds)
    gw = next(s for s in result.services if s.name == "api-gateway")
    assert gw.headroom == pytest.approx(100_000 / gw.replicas_needed)
    idle = next(s for s in result.services if s.rps == 0)
    assert idle.headroom is None
    text = pl.render_text(result)
    assert "the environment declares 10, 6 after losing one of 3 zones" in text
    assert f"  {idle.name}" in text and "ok, no traffic in the model" in text
    assert "stand-in profiles in core/profiles.py, not measured on the real services" in text
    assert "stand-in" in pl.to_json(result)["sources"]["cpu_per_request"]
    assert pl.ClusterBounds("one", 5, 1000).nodes_after_zone_loss == 5


def test_required_anti_affinity_caps_replicas_at_the_node_count() -> None:
    result = pl.make_plan(1_000_000, CAP, _bounds(100_000, anti=True), CLUSTER)
    gw = next(s for s in result.services if s.name == "api-gateway")
    assert gw.replica_bound == CLUSTER.nodes
    assert gw.limited_by is not None and "anti-affinity over 12 nodes" in gw.limited_by


def test_node_count_limits_and_workers_memory() -> None:
    result = pl.make_plan(1_000_000, CAP, _bounds(100_000), pl.ClusterBounds("test", 3, 4000))
    assert result.nodes_needed > 3
    assert any(line.startswith("nodes:") for line in result.limits())
    assert result.worker_memory_mib == math.ceil(80 + 10_000 * 24 / 1024)


def test_a_canary_counts_toward_the_nodes_and_is_named_not_planned() -> None:
    bounds = _bounds(100_000)
    canary = pl.ServiceBounds(name="api-gateway-v2", cpu_request_millis=3000, min_replicas=2, max_replicas=2,
                              has_hpa=False, service="api-gateway")
    stray = pl.ServiceBounds(name="sidecar-injector", cpu_request_millis=100, min_replicas=1, max_replicas=1,
                             has_hpa=False, service="sidecar-injector")
    without = pl.make_plan(50_000, CAP, bounds, CLUSTER)
    result = pl.make_plan(50_000, CAP, [*bounds, canary, stray], CLUSTER)
    assert [s.name for s in result.services] == [s.name for s in without.services]  # not sized
    assert result.companion_workloads == {"api-gateway-v2": "api-gateway"}
    assert result.unprofiled_workloads == ["sidecar-injector"]
    cpu = sum(s.cpu_millis_needed for s in without.services)
    assert result.nodes_needed == math.ceil((cpu + 2 * 3000) / CLUSTER.node_cpu_millis) > without.nodes_needed
    text = pl.render_text(result)
    assert "api-gateway-v2 runs more pods of api-gateway (a canary)" in text
    assert "Workloads without a profile (not planned): sidecar-injector" in text


def test_many_workers_need_several_masters() -> None:
    small = pl.WorkerCapacity(100, 20, 24, 80, max_workers_per_master=1000)
    result = pl.make_plan(1_000_000, small, _bounds(100_000), pl.ClusterBounds("t", 100_000, 8000))
    assert result.workers_needed == 10_000 and result.masters_needed == 10


def test_committed_capacity_loads() -> None:
    cap = pl.load_capacity()
    assert cap.users_per_worker > 0 and cap.memory_per_user_kib > 0


def test_bad_capacity_file_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "cap.json"
    bad.write_text(json.dumps({"worker": {"users_per_worker": -1}}), encoding="utf-8")
    with pytest.raises(InputFileError, match=r"worker\.users_per_worker"):
        pl.load_capacity(bad)


FIXTURE = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api-gateway}
spec:
  replicas: 3
  template:
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector: {matchLabels: {app: api-gateway}}
      containers:
      - name: gw
        image: example/gw
        resources: {requests: {cpu: 500m, memory: 256Mi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api-gateway}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api-gateway}
  minReplicas: 3
  maxReplicas: 10
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
"""


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not on PATH")
    env = tmp_path / "environments" / "prod"
    env.mkdir(parents=True)
    (env / "resources.yaml").write_text(FIXTURE, encoding="utf-8")
    (env / "kustomization.yaml").write_text("resources: [resources.yaml]\n", encoding="utf-8")
    (env / "cluster-shape.yaml").write_text(
        "environment: prod\nnodes: 6\nzones: [a, b, c]\nnodeAllocatable: {cpuMillis: 4000, memoryMiB: 16384}\n",
        encoding="utf-8",
    )
    return tmp_path


def test_plan_cli_reads_the_overlay_and_exits_1_when_bounds_cannot_reach(
    manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["plan", "--users", "1000000", "--env", "prod", "--manifests", str(manifests), "--format", "json"])
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    gw = next(s for s in data["services"] if s["name"] == "api-gateway")
    assert gw["max_replicas"] == 10 and gw["replica_bound"] == 6  # anti-affinity over 6 nodes
    assert gw["replica_rps"] == pytest.approx(round(replica_rps(PROFILES["api-gateway"], 500, 0.7), 1))
    assert any(line.startswith("api-gateway: needs") for line in data["limits"])


def test_plan_cli_small_target_passes(manifests: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--users", "100", "--env", "prod", "--manifests", str(manifests)]) == 0
    assert "can reach 100 users" in capsys.readouterr().out


def test_plan_cli_bad_cluster_shape_names_file_and_field(
    manifests: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shape = manifests / "environments" / "prod" / "cluster-shape.yaml"
    shape.write_text(shape.read_text(encoding="utf-8").replace("nodes: 6", "nodes: 0"), encoding="utf-8")
    assert main(["plan", "--users", "100", "--env", "prod", "--manifests", str(manifests)]) == 2
    err = capsys.readouterr().err.strip()
    assert "cluster-shape.yaml" in err and "nodes" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "0"], "--users"),
        (["--users", "10", "--format", "xml"], "--format"),
        (["--users", "10", "--env", "nowhere"], "no environment 'nowhere'"),
    ],
)
def test_plan_cli_bad_input_is_one_line_exit_2(
    manifests: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["plan", "--manifests", str(manifests), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
