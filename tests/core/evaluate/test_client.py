from __future__ import annotations

from aideon_resilience.core.evaluate.verdict import Status
from tests.core.runfactory import healthy_events, healthy_windows, result, run_data, window


def test_healthy_run_passes_with_figures() -> None:
    r = result("client-errors", run_data(healthy_windows(), healthy_events()))
    assert r.status is Status.PASS
    assert abs(r.evidence.figures["error_ratio"].value - 238 / 120000) < 1e-9
    assert r.evidence.figures["chaos_window_error_ratio"].value == 0.06
    lat = result("client-latency", run_data(healthy_windows(), healthy_events()))
    assert lat.status is Status.PASS and lat.evidence.figures["p95_ms"].value == 80


def test_overall_error_ratio_fails_above_limit_and_warns_near_it() -> None:
    bad = [window(t * 5, failures=30) for t in range(10)]  # 3 %
    assert result("client-errors", run_data(bad, healthy_events())).status is Status.FAIL
    near = [window(t * 5, failures=18) for t in range(120)]  # 1.8 % of a 2 % limit, warn above 1.6 %
    r = result("client-errors", run_data(near, []))
    # no chaos experiment in the timeline: the per-window check cannot be judged
    assert r.status is Status.INCONCLUSIVE
    near_events = [e for e in healthy_events() if e["kind"] == "experiment"]
    assert result("client-errors", run_data(near, near_events)).status is Status.WARN


def test_chaos_window_fails_and_names_the_window() -> None:
    windows = healthy_windows()
    for i, w in enumerate(windows):
        if w.endpoint == "Aggregated" and w.start == windows[0].start + 70:  # inside pod-kill
            windows[i] = w.model_copy(update={"failures": 300, "error_ratio": 0.3})
    r = result("client-errors", run_data(windows, healthy_events()))
    assert r.status is Status.FAIL
    assert "t+70.0s (pod-kill)" in r.message
    assert any("window t+70.0s..t+75.0s during pod-kill" in i for i in r.evidence.items)


def test_latency_fails_on_slow_windows() -> None:
    slow = [window(t * 5, p95=400.0, p99=900.0) for t in range(10)]
    r = result("client-latency", run_data(slow, []))
    assert r.status is Status.FAIL
    assert "p95 400 ms" in r.message and "p99" not in r.message.split(";")[0].split("p95")[0]


def test_missing_windows_are_inconclusive_never_pass() -> None:
    for data in (run_data(None, healthy_events()), run_data([], healthy_events())):
        for slo in ("client-errors", "client-latency"):
            r = result(slo, data)
            assert r.status is Status.INCONCLUSIVE, slo
    no_latency = [window(t * 5, p50=None, p95=None, p99=None) for t in range(3)]
    assert result("client-latency", run_data(no_latency, [])).status is Status.INCONCLUSIVE
    only_endpoints = [window(0, endpoint="GET /x")]
    assert result("client-errors", run_data(only_endpoints, healthy_events())).status is Status.INCONCLUSIVE


def test_a_load_that_ended_before_the_suite_makes_every_client_check_inconclusive() -> None:
    """The Locust process died mid-run: what was measured covers part of the run (issue 12)."""
    from dataclasses import replace

    data = run_data(healthy_windows(), healthy_events())
    lost = replace(data, load_lost_at=data.t0 + 250)
    for slo_id in ("client-errors", "client-latency"):
        assert result(slo_id, data).status is Status.PASS
        r = result(slo_id, lost)
        assert r.status is Status.INCONCLUSIVE
        assert "the load ended at t+250.0s, before the chaos suite did (see locust.log)" in r.message
