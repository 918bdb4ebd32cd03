from __future__ import annotations

from aideon_resilience.core.evaluate.verdict import Status
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
    no_hpa = [
        {**e, "hpa_min": None, "hpa_max": None, "hpa_desired": None} if e["kind"] == "workload" else e
        for e in healthy_events()
    ]
    assert result("hpa-gateway", run_data(None, no_hpa)).status is Status.INCONCLUSIVE
    other = [e for e in healthy_events() if e["kind"] != "workload"]
    assert result("hpa-gateway", run_data(None, other)).status is Status.INCONCLUSIVE


def _blind_from(t0: float, events: list[dict[str, object]], start: float, end: float) -> list[dict[str, object]]:
    """The gateway's HPA could not read its metrics between start and end (seconds after T0)."""
    out = [
        {**e, "hpa_inactive": "FailedGetResourceMetric"}
        if e["kind"] == "workload" and start <= e["t"] - t0 < end
        else e
        for e in events
    ]
    out += [
        workload(start, 3, 3, hpa=(3, 6, 3)) | {"hpa_inactive": "FailedGetResourceMetric"},
        workload(end, 3, 3, hpa=(3, 6, 3)),
    ]
    return out


def test_an_hpa_without_metrics_during_the_surge_is_inconclusive_not_failed() -> None:
    """metrics-server stopped: the HPA never scaled, and that says nothing of the HPA (issue 12)."""
    t0 = healthy_events()[0]["t"]
    assert isinstance(t0, float)
    never_scaled = [e for e in healthy_events() if not (e["kind"] == "workload" and 240 <= e["t"] - t0 < 400)]
    events = _blind_from(t0, never_scaled, 225, 420)
    r = result("hpa-gateway", run_data(None, events))
    assert r.status is Status.INCONCLUSIVE
    assert "aideon-backend/api-gateway: the HPA could not read its metrics for " in r.message
    assert (
        "(FailedGetResourceMetric), 0 s of sight of the surge (at least 30 s judge it): its scaling was not tested"
        in r.message
    )
    # the same run with metrics: a plain failure
    assert result("hpa-gateway", run_data(None, never_scaled)).status is Status.FAIL


def test_a_missed_scrape_or_blindness_before_the_surge_changes_nothing() -> None:
    t0 = healthy_events()[0]["t"]
    assert isinstance(t0, float)
    for start, end in ((100, 200), (240, 245)):  # before the surge; a 5 s blip during it
        r = result("hpa-gateway", run_data(healthy_windows(), _blind_from(t0, healthy_events(), start, end)))
        assert r.status is Status.PASS, (start, end, r.message)


def test_an_hpa_that_saw_most_of_the_surge_and_did_not_scale_fails() -> None:
    """Blind for the surge's first 25 s of 70: 45 s of sight is enough to judge a missing scale-up."""
    t0 = healthy_events()[0]["t"]
    assert isinstance(t0, float)
    never_scaled = [e for e in healthy_events() if not (e["kind"] == "workload" and 240 <= e["t"] - t0 < 400)]
    r = result("hpa-gateway", run_data(None, _blind_from(t0, never_scaled, 225, 255)))
    assert r.status is Status.FAIL, r.message
    assert "desired count stayed at 3 during the surge (needed at least 4) (blind 25 s of the surge)" in r.message


def test_a_maximum_with_no_room_fails_even_when_the_hpa_was_blind() -> None:
    """hpa-max-equals-min: the configuration fails whatever the metrics did."""
    t0 = healthy_events()[0]["t"]
    assert isinstance(t0, float)
    events = [
        {**e, "hpa_max": 3, "hpa_desired": 3, "replicas": min(e["replicas"], 3), "ready": min(e["ready"], 3)}
        if e["kind"] == "workload"
        else e
        for e in _blind_from(t0, healthy_events(), 225, 420)
    ]
    r = result("hpa-gateway", run_data(None, events))
    assert r.status is Status.FAIL
    assert "HPA maximum 3 leaves no room to scale above minimum 3" in r.message


def test_blind_seconds_are_credited_to_a_late_scale_up() -> None:
    """Ready at 105 s after a 120 s limit... plus 30 s blind: judged as 75 s, a pass, not a warning."""
    t0 = healthy_events()[0]["t"]
    assert isinstance(t0, float)
    events = without(healthy_events(), kind="workload", t=t0 + 265)
    late = _blind_from(t0, [*events, workload(335, 5, 5, hpa=(3, 6, 5))], 228, 260)
    r = result("hpa-gateway", run_data(None, late))
    assert r.evidence.figures["aideon-backend/api-gateway scale_up_s"].value == 75
    assert "105 s after the surge start, less 30 s the HPA could not read its metrics" in r.message


def test_blindness_after_the_scale_up_is_not_credited_to_it() -> None:
    """Ready 35 s into the surge, blind from 40 s to 65 s: the 35 s stand as they are."""
    blind = [
        workload(270, 5, 5, hpa=(3, 6, 5)) | {"hpa_inactive": "FailedGetResourceMetric"},
        workload(295, 5, 5, hpa=(3, 6, 5)),
    ]
    r = result("hpa-gateway", run_data(healthy_windows(), [*healthy_events(), *blind]))
    assert r.evidence.figures["aideon-backend/api-gateway scale_up_s"].value == 35, r.message
    assert "less" not in r.message
