from __future__ import annotations

from aideon_resilience.core.verdict import Status
from tests.core.runfactory import healthy_events, healthy_windows, result, run_data, without, workload


def test_healthy_surge_passes_with_timings() -> None:
    r = result("hpa-gateway", run_data(healthy_windows(), healthy_events()))
    assert r.status is Status.PASS
    assert r.evidence.figures["aideon-backend/api-gateway scale_up_s"].value == 35
    assert r.evidence.figures["aideon-backend/api-gateway scale_down_s"].value == 100


def test_hpa_max_equal_min_fails_naming_it() -> None:
    events = [
        {**e, "hpa_max": 3, "hpa_desired": 3, "replicas": min(e["replicas"], 3), "ready": min(e["ready"], 3)}
        if e["kind"] == "workload"
        else e
        for e in healthy_events()
    ]
    r = result("hpa-gateway", run_data(None, events))
    assert r.status is Status.FAIL
    assert "HPA maximum 3 leaves no room to scale above minimum 3" in r.message


def test_above_maximum_fails() -> None:
    events = [*healthy_events(), workload(270, 7, 7, hpa=(3, 6, 6))]
    r = result("hpa-gateway", run_data(None, events))
    assert r.status is Status.FAIL
    assert "7 replicas (desired 6) above HPA maximum 6 at t+270.0s" in r.message


def test_slow_scale_out_fails_and_late_one_warns() -> None:
    events = without(healthy_events(), kind="workload", t=healthy_events()[0]["t"] + 265)
    slow = [*events, workload(400, 5, 5, hpa=(3, 6, 5)), workload(500, 3, 3)]
    slow = without(slow, kind="workload", replicas=3, ready=3, t=healthy_events()[0]["t"] + 400)
    r = result("hpa-gateway", run_data(None, slow))
    assert r.status is Status.FAIL and "170 s after the surge start" in r.message
    warn = [*events, workload(335, 5, 5, hpa=(3, 6, 5))]  # 105 s of a 120 s limit
    assert result("hpa-gateway", run_data(None, warn)).status is Status.WARN


def test_never_scaled_up_fails() -> None:
    events = [e for e in healthy_events() if not (e["kind"] == "workload" and e["replicas"] == 5)]
    r = result("hpa-gateway", run_data(None, events))
    assert r.status is Status.FAIL
    assert "desired count stayed at 3" in r.message


def test_not_scaled_down_fails_or_is_inconclusive_when_the_run_ended_early() -> None:
    events = [e for e in healthy_events() if not (e["kind"] == "workload" and e["t"] == healthy_events()[0]["t"] + 400)]
    r = result("hpa-gateway", run_data(None, events, end=700))
    assert r.status is Status.FAIL and "still 5 replicas 300 s after the surge" in r.message
    early = result("hpa-gateway", run_data(None, events, end=420))
    assert early.status is Status.INCONCLUSIVE


def test_missing_data_is_inconclusive() -> None:
    assert result("hpa-gateway", run_data(healthy_windows(), None)).status is Status.INCONCLUSIVE
    no_surge = without(healthy_events(), experiment="load-surge")
    r = result("hpa-gateway", run_data(None, no_surge))
    assert r.status is Status.INCONCLUSIVE and "no load-surge experiment" in r.message
    no_hpa = [{**e, "hpa_min": None, "hpa_max": None, "hpa_desired": None} if e["kind"] == "workload" else e
              for e in healthy_events()]
    assert result("hpa-gateway", run_data(None, no_hpa)).status is Status.INCONCLUSIVE
    other = [e for e in healthy_events() if e["kind"] != "workload"]
    assert result("hpa-gateway", run_data(None, other)).status is Status.INCONCLUSIVE
