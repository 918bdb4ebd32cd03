from __future__ import annotations

from aideon_resilience.core.evaluate.verdict import Status
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


def test_a_ready_flicker_is_not_a_recovery() -> None:
    # the replacement pod is reported Ready for 0.4 s before its process answers (at +75 s)
    events = [*without(healthy_events(), kind="workload", t=T0 + 80),
              workload(66.2, 3, 3), workload(66.6, 3, 2), workload(75, 3, 3)]
    r = result("recovery-gateway", run_data(None, events))
    assert r.status is Status.PASS
    assert r.evidence.figures["aideon-backend/api-gateway recovery_s"].value == 10  # 75 - 65, not 1


def test_readiness_that_keeps_flickering_never_recovers() -> None:
    flickers = [w for i in range(20) for w in (workload(67 + 2 * i, 3, 3), workload(68 + 2 * i, 3, 2))]
    events = [e for e in healthy_events() if not (e["kind"] == "workload" and e["t"] > T0 + 66)]
    r = result("recovery-gateway", run_data(None, [*events, *flickers]))
    assert r.status is Status.FAIL and "not back to 3" in r.message
