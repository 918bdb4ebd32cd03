"""The `rollout` family: clients, ready replicas against the strategy's bound, and a new
ReplicaSet fully available within T of the update."""

from __future__ import annotations

from typing import Any

import pytest

from aideon_resilience.core.evaluate.verdict import Status
from tests.core.runfactory import T0, chaos, ev, experiment, healthy_windows, result, run_data, window, without

SLO = """\
environment: test
slos:
  - id: rollout-gateway
    family: rollout
    workloads: ["*/api-gateway"]
    max_error_ratio: 0.02
    within_s: 60
"""
KEY = "aideon-backend/api-gateway"


def rs(t: float, replicas: int, ready: int, updated: int, total: int | None = None,
       max_unavailable: int = 0) -> dict[str, Any]:
    """A Deployment sample with its rollout fields (maxSurge 1, maxUnavailable 0 by default)."""
    return ev("workload", t, namespace="aideon-backend", name="api-gateway", workload_kind="Deployment",
              replicas=replicas, ready=ready, updated=updated, max_unavailable=max_unavailable,
              total_replicas=replicas if total is None else total)


def rolling_events(**override: Any) -> list[dict[str, Any]]:
    """A rolling update from 455 s: one surge pod at a time, each ready before an old one goes."""
    e = [experiment("rolling-update", 450, 500), chaos("rolling-update", "rollout-restart", 455, 470)]
    e += [rs(0, 3, 3, 3), rs(455.5, 3, 3, 0, total=4), rs(458, 3, 4, 1, total=4), rs(458.5, 3, 3, 1, total=3)]
    e += [rs(459, 3, 3, 1, total=4), rs(462, 3, 4, 2, total=4), rs(462.5, 3, 3, 2, total=3)]
    e += [rs(463, 3, 3, 2, total=4), rs(466, 3, 4, 3, total=4), rs(466.5, 3, 3, 3, total=3)]
    return e


def test_a_rolling_update_that_keeps_serving_passes_with_its_figures() -> None:
    r = result("rollout-gateway", run_data(healthy_windows(), rolling_events()), SLO)
    assert r.status is Status.PASS, r.message
    figures = r.evidence.figures
    assert figures[f"{KEY} rollout_s"].value == pytest.approx(11.5)  # 466.5 - 455
    assert figures[f"{KEY} rollout_lowest_ready"].value == 3
    assert figures["rollout_error_ratio"].value == pytest.approx(0.001)


def test_errors_during_the_rollout_fail_the_clients_check_by_name() -> None:
    windows = [w for w in healthy_windows() if not 450 <= w.start - T0 < 475 or w.endpoint != "Aggregated"]
    windows += [window(s, failures=300) for s in (450, 455, 460, 465, 470)]  # the gateway had no backend
    r = result("rollout-gateway", run_data(windows, rolling_events()), SLO)
    assert r.status is Status.FAIL
    assert "client error ratio 0.3000 during the rollout (900/3000), limit 0.02" in r.message  # 455..470


def test_ready_replicas_below_the_strategy_s_bound_fail() -> None:
    # maxUnavailable 0, yet a replica went unready in the middle of the rollout
    events = [*rolling_events(), rs(460, 3, 2, 1, total=3), rs(461, 3, 3, 1, total=4)]
    r = result("rollout-gateway", run_data(healthy_windows(), events), SLO)
    assert r.status is Status.FAIL
    assert (f"{KEY}: 2 ready replicas at t+460.0s, below the 3 its rollout strategy keeps "
            "(3 replicas, maxUnavailable 0)") in r.message


def test_a_recreate_bound_allows_every_replica_down() -> None:
    events = [e for e in rolling_events() if e["kind"] != "workload"]
    events += [rs(0, 3, 3, 3, max_unavailable=3), rs(456, 3, 0, 0, total=0, max_unavailable=3),
               rs(460, 3, 3, 3, max_unavailable=3)]
    r = result("rollout-gateway", run_data(healthy_windows(), events), SLO)
    assert r.status is Status.PASS, r.message  # its clients are judged by the clients check


def test_a_rollout_that_never_completes_fails_and_one_never_started_fails_by_name() -> None:
    stuck = [e for e in rolling_events() if not (e["kind"] == "workload" and e["t"] > T0 + 459)]
    r = result("rollout-gateway", run_data(healthy_windows(), stuck), SLO)
    assert r.status is Status.FAIL
    assert "the new ReplicaSet not fully available 60 s after rollout-restart" in r.message
    unchanged = [e for e in rolling_events() if not (e["kind"] == "workload" and e["t"] > 0)]
    unchanged.append(rs(470, 3, 3, 3))
    r = result("rollout-gateway", run_data(healthy_windows(), unchanged), SLO)
    assert r.status is Status.FAIL and "no rollout seen after rollout-restart" in r.message


def test_old_pods_still_running_are_not_a_complete_rollout() -> None:
    # every replica updated and ready, but an old pod lingers until 490 s: complete only then
    events = [e for e in rolling_events() if not (e["kind"] == "workload" and e["t"] > T0 + 466)]
    events += [rs(466.5, 3, 4, 3, total=4), rs(490, 3, 3, 3, total=3)]
    r = result("rollout-gateway", run_data(healthy_windows(), events), SLO)
    assert r.evidence.figures[f"{KEY} rollout_s"].value == pytest.approx(35)


def test_missing_evidence_is_inconclusive() -> None:
    assert result("rollout-gateway", run_data(healthy_windows(), None), SLO).status is Status.INCONCLUSIVE
    r = result("rollout-gateway", run_data(healthy_windows(), without(rolling_events(), experiment="rolling-update")),
               SLO)
    assert r.status is Status.INCONCLUSIVE and "no rolling-update experiment" in r.message
    r = result("rollout-gateway", run_data(None, rolling_events()), SLO)
    assert r.status is Status.INCONCLUSIVE and "no Locust windows file" in r.message
    few = [window(s, requests=5, failures=0) for s in range(0, 600, 5)]
    r = result("rollout-gateway", run_data(few, rolling_events()), SLO)
    assert r.status is Status.INCONCLUSIVE and "requests during the rollout (at least 50" in r.message
    # samples without the rollout fields (a timeline from before they were recorded)
    plain = [{k: v for k, v in e.items() if k not in ("updated", "max_unavailable", "total_replicas")}
             for e in rolling_events()]
    r = result("rollout-gateway", run_data(healthy_windows(), plain), SLO)
    assert r.status is Status.INCONCLUSIVE and "maxUnavailable" in r.message
