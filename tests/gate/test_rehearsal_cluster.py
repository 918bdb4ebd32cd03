"""`rehearse` end to end: staging's shape (12 nodes, 3 zones) on a cluster of its own, staging's
overlay unchanged, a modelled load to staging's target, the rehearsal suite; and a rehearsal above
what staging's bounds can carry, which fails for the reason it names. The production rehearsal
(96 nodes, 1,000,000 modelled users, `make rehearsal`) and the rehearsal above the bounds (a second
staging-sized cluster, about 200 s) and staging's whole rehearsal suite are `long` scenarios
(`make test-long`). The suite keeps a staging rehearsal without its node-loss experiment (about
150 s shorter; node loss is judged by the local gate and the chaos cluster tests), and the
plan-replicas failure of the rehearsal above the bounds is also judged without a cluster
(`tests/core/evaluate/test_rehearsal_slos.py::test_a_plan_need_above_the_hpa_maximum_fails_naming_it`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from aideon_resilience.adapters.localcluster import ClusterPaths, LocalCluster
from aideon_resilience.adapters.localcluster.paths import REHEARSAL_CLUSTER_NAME
from aideon_resilience.cli.main import main
from aideon_resilience.core.evidence.timeline import load_timeline
from aideon_resilience.core.report.rundir import REPORT_FILES
from tests.conftest import REPO

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1800)]


def _rehearse(out: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, dict[str, object], Path]:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("CI", "true")  # plain progress lines
    code = main(["rehearse", "--out", str(out), *args])
    runs = sorted(p for p in out.iterdir() if p.is_dir())
    assert runs, f"the rehearsal wrote no run directory (exit {code})"
    return code, json.loads((runs[-1] / "verdict.json").read_text()), runs[-1]


def _by_id(verdict: dict[str, object]) -> dict[str, dict[str, object]]:
    return {str(s["id"]): s for s in verdict["slos"]}  # type: ignore[index, union-attr]


def _assert_cluster_removed() -> None:
    cluster = LocalCluster(ClusterPaths(name=REHEARSAL_CLUSTER_NAME))
    assert not cluster.healthy(), "the rehearsal left its cluster running"


STAGING_REHEARSAL = REPO / "manifests/environments/staging/rehearsal.yaml"
STAGING_SUITE = tuple(yaml.safe_load(STAGING_REHEARSAL.read_text())["experiments"])


@pytest.mark.parametrize("experiments", [
    pytest.param(tuple(e for e in STAGING_SUITE if e != "node-loss"), id="without-node-loss"),
    pytest.param(STAGING_SUITE, id="whole-suite", marks=pytest.mark.long),
])
def test_staging_rehearsal_ends_with_a_verdict_from_its_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  experiments: tuple[str, ...]) -> None:
    code, verdict, run = _rehearse(tmp_path, monkeypatch, "--env", "staging", "--experiments", ",".join(experiments))
    slos = _by_id(verdict)
    shown = {k: (v["status"], v["message"]) for k, v in slos.items()}
    assert set(slos) == {"pdb-held", "pod-kill-recovery", "experiments-held", "plan-replicas",
                         "required-spread-schedules", "zone-capacity"}, shown  # no client or outlier SLO
    # what the control plane decides at staging's shape and target holds ...
    for held in ("experiments-held", "plan-replicas", "required-spread-schedules", "pod-kill-recovery"):
        assert slos[held]["status"] == "pass", shown
    assert slos["pdb-held"]["status"] in ("pass", "warn"), shown  # a sub-second dip while the HPAs scale up warns
    # ... and what the zone outage leaves is judged from evidence, a shortfall named with its size
    capacity = slos["zone-capacity"]
    assert capacity["status"] in ("pass", "fail"), shown
    if capacity["status"] == "fail":
        assert re.search(r"aideon-[a-z]+/[a-z-]+: \d+ ready replicas on the surviving zones .* \(short by \d+\)",
                         str(capacity["message"])), shown
    assert code == {"pass": 0, "warn": 0, "fail": 1}[str(verdict["verdict"])]
    assert verdict["kind"] == "rehearsal" and any("MODELLED LOAD" in n for n in verdict["notes"])
    for name in REPORT_FILES:
        assert (run / name).is_file(), name
    assert "MODELLED LOAD" in (run / "report.md").read_text() and "Modelled users" in (run / "index.html").read_text()
    meta = json.loads((run / "run.json").read_text())
    assert meta["kind"] == "rehearsal" and meta["load_modelled"] and meta["target_users"] == 20000
    timeline = load_timeline(run / "timeline.jsonl")
    assert max(m.users for m in timeline.modelled) == 20000
    assert len({n.name for n in timeline.nodes}) == 12
    # the real HPA scaled the gateway from its minimum to what the plan needs at 20,000 users
    gateway = [w.hpa_current or 0 for w in timeline.workloads if w.name == "api-gateway"]
    needed = max(m.needed["api-gateway"] for m in timeline.modelled)
    assert min(gateway) < needed and max(gateway) >= needed - 1, (gateway, needed)
    assert not (run / "locust-windows.jsonl").exists()  # no request was sent
    _assert_cluster_removed()


@pytest.mark.long
def test_a_rehearsal_above_the_bounds_fails_naming_the_hpa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `plan --users 40000 --env staging`: auth-service needs 12 replicas, its HPA maximum is 9
    code, verdict, _run = _rehearse(tmp_path, monkeypatch, "--env", "staging", "--users", "40000",
                                    "--experiments", "pod-kill")
    plan = _by_id(verdict)["plan-replicas"]
    assert code == 1 and verdict["verdict"] == "fail"
    assert plan["status"] == "fail"
    assert "aideon-backend/auth-service: the plan needs" in str(plan["message"])
    assert "its HPA maximum is 9" in str(plan["message"])
    _assert_cluster_removed()


@pytest.mark.long
@pytest.mark.timeout(3600)
def test_production_rehearsal_ends_with_a_verdict_from_evidence(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    code, verdict, run = _rehearse(tmp_path, monkeypatch, "--env", "production")
    slos = _by_id(verdict)
    assert code in (0, 1), {k: (v["status"], v["message"]) for k, v in slos.items()}
    assert not [k for k, v in slos.items() if v["status"] == "inconclusive"]
    timeline = load_timeline(run / "timeline.jsonl")
    assert max(m.users for m in timeline.modelled) == 1_200_000  # the surge
    assert len({n.name for n in timeline.nodes}) == 96
    _assert_cluster_removed()
