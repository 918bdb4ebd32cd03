from __future__ import annotations

from aideon_resilience.core.evaluate.verdict import Status
from tests.core.runfactory import healthy_events, healthy_windows, result, run_data, without


def _with_errors(from_t: float, to_t: float, failures: int) -> list:  # type: ignore[type-arg]
    out = []
    for w in healthy_windows():
        rel = w.start - healthy_windows()[0].start
        if w.endpoint == "Aggregated" and from_t <= rel < to_t:
            w = w.model_copy(update={"failures": failures, "error_ratio": failures / w.requests})
        out.append(w)
    return out


def test_healthy_outlier_passes() -> None:
    r = result("outlier-gateway", run_data(healthy_windows(), healthy_events()))
    assert r.status is Status.PASS
    assert r.evidence.figures["outlier_recovery_s"].value == 15


def test_errors_that_persist_fail() -> None:
    windows = _with_errors(315, 380, 60)  # errors past the experiment end and the 60 s limit
    r = result("outlier-gateway", run_data(windows, healthy_events()))
    assert r.status is Status.FAIL and "not back under 0.01 by t+375.0s" in r.message


def test_slow_recovery_warns_then_fails() -> None:
    warn = run_data(_with_errors(315, 360, 60), healthy_events())  # back at 365: 50 s of 60
    assert result("outlier-gateway", warn).status is Status.WARN


def test_no_ejection_fails() -> None:
    events = [e for e in healthy_events() if e["kind"] != "ejection"]
    r = result("outlier-gateway", run_data(healthy_windows(), events))
    assert r.status is Status.FAIL and "no ejection observed between t+315.0s" in r.message


def test_missing_data_is_inconclusive() -> None:
    assert result("outlier-gateway", run_data(healthy_windows(), None)).status is Status.INCONCLUSIVE
    r = result("outlier-gateway", run_data(None, healthy_events()))
    assert r.status is Status.INCONCLUSIVE and "no Locust windows file" in r.message
    no_exp = without(healthy_events(), experiment="gateway-outlier")
    r = result("outlier-gateway", run_data(healthy_windows(), no_exp))
    assert r.status is Status.INCONCLUSIVE and "no gateway-outlier experiment" in r.message
