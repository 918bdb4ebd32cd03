from __future__ import annotations

from aideon_resilience.core.verdict import Status
from tests.core.runfactory import T0, healthy_events, result, run_data, without, workload


def test_healthy_recovery_passes() -> None:
    r = result("recovery-gateway", run_data(None, healthy_events()))
    assert r.status is Status.PASS
    assert r.evidence.figures["aideon-backend/api-gateway recovery_s"].value == 15


def test_not_recovered_fails() -> None:
    events = [e for e in healthy_events() if not (e["kind"] == "workload" and T0 + 66 < e["t"] < T0 + 245)]
    events = [e for e in events if not (e["kind"] == "workload" and e["t"] >= T0 + 245)]
    r = result("recovery-gateway", run_data(None, events))
    assert r.status is Status.FAIL and "not back to 3" in r.message and "lowest 2" in r.message


def test_slow_recovery_warns() -> None:
    events = [*without(healthy_events(), kind="workload", t=T0 + 80), workload(120, 3, 3)]  # 55 s of 60
    assert result("recovery-gateway", run_data(None, events)).status is Status.WARN


def test_missing_data_is_inconclusive() -> None:
    assert result("recovery-gateway", run_data(None, None)).status is Status.INCONCLUSIVE
    r = result("recovery-gateway", run_data(None, without(healthy_events(), experiment="pod-kill")))
    assert r.status is Status.INCONCLUSIVE and "no pod-kill experiment" in r.message
    r = result("recovery-gateway", run_data(None, without(healthy_events(), activity="kill-gateway-pod")))
    assert r.status is Status.INCONCLUSIVE and "no kill action" in r.message
    no_workload = [e for e in healthy_events() if e["kind"] != "workload"]
    assert result("recovery-gateway", run_data(None, no_workload)).status is Status.INCONCLUSIVE
