from __future__ import annotations

from typing import Any

from aideon_resilience.core.evaluate.verdict import Status
from tests.core.runfactory import SLO_YAML, chaos, ev, healthy_events, healthy_windows, result, run_data, without

BACKEND = "10.0.0.5:8080"

# the local gate's kind of outlier SLO: two ejections of growing length, re-admission bursts allowed
GROWING = SLO_YAML + """\
  - id: outlier-growing
    family: outlier
    max_error_ratio: 0.01
    within_s: 20
    readmission_errors: 6
    min_ejections: 2
"""


def _with_errors(from_t: float, to_t: float, failures: int) -> list:  # type: ignore[type-arg]
    out = []
    for w in healthy_windows():
        rel = w.start - healthy_windows()[0].start
        if w.endpoint == "Aggregated" and from_t <= rel < to_t:
            w = w.model_copy(update={"failures": failures, "error_ratio": failures / w.requests})
        out.append(w)
    return out


def _ejection(t: float, state: str, backend: str = BACKEND, **fields: Any) -> dict[str, Any]:
    return ev("ejection", t, service="api-gateway", backend=backend, state=state, **fields)


def _ejected_twice(second_s: float = 30, second_back: float | None = 366) -> list[dict[str, Any]]:
    """The backend ejected at 318 for 15 s, back at the 335 sweep, ejected again at once (healed at 350)."""
    events = [e for e in healthy_events() if e["kind"] != "ejection"]
    events += [_ejection(318, "down", ejection=1, ejection_s=15), _ejection(335, "up", ejection=1, ejected_s=17)]
    events += [_ejection(335.4, "down", ejection=2, ejection_s=second_s)]
    if second_back is not None:
        events += [_ejection(second_back, "up", ejection=2)]
    return events


def test_healthy_outlier_passes() -> None:
    r = result("outlier-gateway", run_data(healthy_windows(), healthy_events()))
    assert r.status is Status.PASS
    assert r.evidence.figures["outlier_recovery_s"].value == 15


def test_errors_until_the_backend_is_healed_fail() -> None:
    """Without outlier detection the failing backend keeps its share until it is healed: the errors
    stop at the healing, and that is no recovery."""
    r = result("outlier-gateway", run_data(_with_errors(315, 350, 60), healthy_events()))
    assert r.status is Status.FAIL
    assert "error ratio above 0.01 until the backend was healed at t+350.0s" in r.message
    assert "window at t+345.0s: 60/1000 failed" in r.message


def test_a_burst_later_in_the_failure_fails_even_after_a_recovery() -> None:
    windows = _with_errors(315, 325, 60)
    windows = [w.model_copy(update={"failures": 20, "error_ratio": 0.02})
               if w.endpoint == "Aggregated" and w.start - windows[0].start == 340 else w for w in windows]
    r = result("outlier-gateway", run_data(windows, healthy_events()))
    assert r.status is Status.FAIL
    assert "back under 0.01 at t+330.0s, above it again before the backend was healed (window at t+340.0s: " \
           "20/1000 failed)" in r.message


def test_a_window_that_began_before_the_failure_is_no_recovery() -> None:
    """The failure starts mid-window: that window is mostly healthy traffic and under X, every later one
    is over X until the healing. That is no recovery followed by a relapse: the errors never stopped."""
    events = [e for e in healthy_events() if not (e["kind"] == "chaos" and e.get("activity") == "fail-backend")]
    events.append(chaos("gateway-outlier", "fail-backend", 318.3, 318.4))
    windows = _with_errors(315, 320, 5)  # 1.7 s of failure in the 315-320 window: 5/1000, under X
    windows = [w.model_copy(update={"failures": 60, "error_ratio": 0.06})
               if w.endpoint == "Aggregated" and 320 <= w.start - windows[0].start < 350 else w for w in windows]
    r = result("outlier-gateway", run_data(windows, events))
    assert r.status is Status.FAIL
    assert "error ratio above 0.01 until the backend was healed at t+350.0s (window at t+345.0s: 60/1000 " \
           "failed)" in r.message


def test_errors_after_the_healing_are_not_this_slos() -> None:
    r = result("outlier-gateway", run_data(_with_errors(355, 380, 60), healthy_events()))
    assert r.status is Status.PASS, r.message


def test_slow_recovery_warns_then_fails() -> None:
    warn = run_data(_with_errors(315, 345, 60), healthy_events())  # back at 350: 35 s of 60 (0.8: 48)
    assert result("outlier-gateway", warn).status is Status.PASS
    warn = run_data(_with_errors(315, 345, 60), _ejected_twice())
    r = result("outlier-growing", warn, GROWING.replace("within_s: 20", "within_s: 40"))  # 35 s of 40
    assert r.status is Status.WARN, r.message
    slow = run_data(_with_errors(315, 345, 60), _ejected_twice())  # back at 350: 35 s of 20
    r = result("outlier-growing", slow, GROWING)
    assert r.status is Status.FAIL and "35 s after the backend failed" in r.message and "limit 20 s" in r.message


def test_no_ejection_fails() -> None:
    events = [e for e in healthy_events() if e["kind"] != "ejection"]
    r = result("outlier-gateway", run_data(healthy_windows(), events))
    assert r.status is Status.FAIL and "no ejection observed between t+315.0s and t+350.0s" in r.message


def test_refused_ejections_are_named() -> None:
    events = [e for e in healthy_events() if e["kind"] != "ejection"]
    events += [_ejection(318 + i, "refused", reason="consecutive_5xx", ejection=0) for i in range(3)]
    r = result("outlier-gateway", run_data(healthy_windows(), events))
    assert r.status is Status.FAIL
    assert f"no ejection observed between t+315.0s and t+350.0s; 3 ejection(s) of {BACKEND} refused by " \
           "maxEjectionPercent" in r.message


def test_two_ejections_of_growing_length_pass() -> None:
    r = result("outlier-growing", run_data(healthy_windows(), _ejected_twice()), GROWING)
    assert r.status is Status.PASS, r.message
    assert f"{BACKEND} (api-gateway) ejected 2 times while it failed, each time for longer (17 s, 31 s)" in r.message


def test_the_second_ejection_takes_the_detectors_time_when_it_had_not_ended() -> None:
    r = result("outlier-growing", run_data(healthy_windows(), _ejected_twice(second_back=None)), GROWING)
    assert r.status is Status.PASS and "(17 s, 30 s)" in r.message


def test_an_ejection_that_does_not_grow_fails() -> None:
    events = _ejected_twice(second_s=15, second_back=None)
    r = result("outlier-growing", run_data(healthy_windows(), events), GROWING)
    assert r.status is Status.FAIL
    assert f"ejection 2 of {BACKEND} lasted 15 s, no longer than ejection 1 (17 s)" in r.message


def test_a_backend_not_ejected_again_fails() -> None:
    events = [e for e in _ejected_twice() if not (e["kind"] == "ejection" and e.get("ejection") == 2)]
    r = result("outlier-growing", run_data(healthy_windows(), events), GROWING)
    assert r.status is Status.FAIL
    assert f"{BACKEND} ejected 1 time(s) while it failed, 2 expected" in r.message


def test_an_ejection_with_no_length_is_inconclusive() -> None:
    events = [e for e in _ejected_twice(second_back=None)]
    events = [{k: v for k, v in e.items() if k != "ejection_s"} if e.get("ejection") == 2 else e for e in events]
    r = result("outlier-growing", run_data(healthy_windows(), events), GROWING)
    assert r.status is Status.INCONCLUSIVE and "ejection 2 of" in r.message


def test_readmission_bursts_are_allowed_per_return_only() -> None:
    windows = _with_errors(315, 320, 60)
    burst = [w.model_copy(update={"failures": 15, "error_ratio": 0.015})
             if w.endpoint == "Aggregated" and w.start - windows[0].start == 335 else w for w in windows]
    r = result("outlier-growing", run_data(burst, _ejected_twice()), GROWING)
    assert r.status is Status.PASS, r.message
    assert any("over 0.01 only by a re-admission burst" in i for i in r.evidence.items)
    no_return = [e for e in _ejected_twice() if not (e["kind"] == "ejection" and e["state"] == "up")]
    no_return += [_ejection(366, "up", ejection=2)]
    r = result("outlier-growing", run_data(burst, no_return), GROWING)
    assert r.status is Status.FAIL and "above it again before the backend was healed (window at t+335.0s: " \
        "15/1000 failed)" in r.message


def test_a_slow_readmission_burst_is_allowed_in_every_window_it_spans_and_no_further() -> None:
    """A backend that gets a few requests a second takes seconds to fail consecutive5xxErrors times
    after its return (a canary pod at 10 % of the traffic): back at 333, ejected again at 338.5,
    its burst spans the 330 and 335 windows; the 340 window is after it."""
    events = [e for e in healthy_events() if e["kind"] != "ejection"]
    events += [_ejection(318, "down", ejection=1, ejection_s=15), _ejection(333, "up", ejection=1, ejected_s=15)]
    events += [_ejection(338.5, "down", ejection=2, ejection_s=30), _ejection(369, "up", ejection=2)]
    windows = _with_errors(315, 320, 60)

    def over(at: set[int]) -> list:  # type: ignore[type-arg]
        return [
            w.model_copy(update={"failures": 14, "error_ratio": 0.014})
            if w.endpoint == "Aggregated" and w.start - windows[0].start in at
            else w
            for w in windows
        ]

    r = result("outlier-growing", run_data(over({330, 335}), events), GROWING)
    assert r.status is Status.PASS, r.message
    r = result("outlier-growing", run_data(over({330, 335, 340}), events), GROWING)
    assert r.status is Status.FAIL and "(window at t+340.0s: 14/1000 failed)" in r.message, r.message


def test_a_failure_shorter_than_a_window_is_inconclusive() -> None:
    events = [e for e in healthy_events() if not (e["kind"] == "chaos" and e.get("activity") == "heal-backend")]
    events.append(chaos("gateway-outlier", "heal-backend", 317, 318))  # healed 2 s after: mid-window
    r = result("outlier-gateway", run_data(_with_errors(315, 325, 1), events))  # no window over X
    assert "[inconclusive] no Locust window ended while the backend failed (fail-backend at t+315.0s, " \
           "healed at t+317.0s)" in r.evidence.items


def test_missing_data_is_inconclusive() -> None:
    assert result("outlier-gateway", run_data(healthy_windows(), None)).status is Status.INCONCLUSIVE
    r = result("outlier-gateway", run_data(None, healthy_events()))
    assert r.status is Status.INCONCLUSIVE and "no Locust windows file" in r.message
    no_exp = without(healthy_events(), experiment="gateway-outlier")
    r = result("outlier-gateway", run_data(healthy_windows(), no_exp))
    assert r.status is Status.INCONCLUSIVE and "no gateway-outlier experiment" in r.message


def _traffic(t: float, pool: str, responses: int, errors: int, no_host: int = 0) -> dict[str, Any]:
    return ev("pool_traffic", t, service=pool, period_s=5.0, responses=responses, errors=errors, no_host=no_host,
              hosts=1, ejected=0, panic=False)


def test_the_errors_of_each_pool_are_evidence_and_a_failure_names_the_worst() -> None:
    """The proxy's count per pool while the backend failed (315-350; a sample covers the 5 s before
    it): a canary subset with no healthy host is named in the failing message."""
    events = healthy_events()
    events += [_traffic(310, "api-gateway.v2", 100, 90)]  # before the failure: not counted
    events += [_traffic(320 + 5 * i, "api-gateway.v2", 10, 10, no_host=8 if i else 0) for i in range(7)]
    events += [_traffic(320 + 5 * i, "api-gateway.v1", 90, 1 if i == 0 else 0) for i in range(7)]
    events += [_traffic(320, "auth-service", 50, 50)]  # not a pool of this SLO's services
    failing = run_data(_with_errors(315, 350, 60), events)
    slo = GROWING.replace("min_ejections: 2", "min_ejections: 1\n    services: [api-gateway]")
    r = result("outlier-growing", failing, slo)
    assert r.status is Status.FAIL
    assert "error ratio above 0.01 until the backend was healed at t+350.0s (window at t+345.0s: 60/1000 failed); " \
           "at the proxy: api-gateway.v2 70/70 5xx, 48 with no healthy host" in r.message, r.message
    assert r.evidence.items.count("proxy, pool api-gateway.v2: 70/70 responses 5xx, 48 with no healthy host "
                                  "(503 no healthy upstream)") == 1, r.evidence.items
    assert "proxy, pool api-gateway.v1: 1/630 responses 5xx" in r.evidence.items
    assert not any("auth-service" in i for i in r.evidence.items)
    # the subset's own pattern selects only its pool; a pass carries the counts but no note
    r = result("outlier-growing", run_data(healthy_windows(), events), slo.replace("[api-gateway]", "[api-gateway.v1]"))
    assert "at the proxy" not in r.message
    pools = [i for i in r.evidence.items if i.startswith("proxy, pool")]
    assert pools == ["proxy, pool api-gateway.v1: 1/630 responses 5xx"]


def _attempts(t: float, pool: str, attempts: int, errors: int) -> dict[str, Any]:
    """A period in which the clients got only 200s (the route retried every 5xx elsewhere)."""
    return ev("pool_traffic", t, service=pool, period_s=5.0, responses=attempts - errors, errors=0, no_host=0,
              attempts=attempts, attempt_errors=errors, hosts=3, ejected=0, panic=False)


ATTEMPTS = GROWING.replace("min_ejections: 2", "min_ejections: 1\n    error_ratio_of: attempts\n"
                           "    services: [\"api-gateway*\"]")


def test_the_attempts_error_ratio_fails_where_retries_hide_a_failing_host_from_the_clients() -> None:
    """The clients' windows are clean (every 5xx retried on another host), yet the host kept failing
    a third of the attempts until it was healed: judged on the attempts, that is no recovery; judged
    on the clients it would have passed."""
    events = healthy_events()
    events += [_attempts(320 + 5 * i, "api-gateway.v1", 150, 50) for i in range(7)]
    events += [_attempts(320 + 5 * i, "auth-service", 100, 100) for i in range(7)]  # not this SLO's pool
    data = run_data(healthy_windows(), events)
    assert result("outlier-growing", data, GROWING.replace("min_ejections: 2", "min_ejections: 1")).status \
        is Status.PASS  # the clients saw nothing
    r = result("outlier-growing", data, ATTEMPTS)
    assert r.status is Status.FAIL
    assert "attempt error ratio above 0.01 until the backend was healed at t+350.0s (window at t+345.0s: " \
           "50/150 attempts failed)" in r.message, r.message
    assert "proxy, pool api-gateway.v1: 0/700 responses 5xx; its hosts answered 350/1050 attempts 5xx" \
        in r.evidence.items, r.evidence.items
    assert "at the proxy" not in r.message  # the clients got no 5xx to name a pool for
    assert not any("auth-service" in i for i in r.evidence.items)


def test_the_attempts_error_ratio_passes_once_the_host_is_ejected_and_needs_attempt_counts() -> None:
    events = healthy_events()
    # the ejection at 318: the window 315-320 has the failing attempts, every later one is clean, so
    # the recovery is the end of the first clean window
    events += [_attempts(320 + 5 * i, "api-gateway", 150, 12 if i == 0 else 0) for i in range(7)]
    r = result("outlier-growing", run_data(_with_errors(315, 350, 0), events), ATTEMPTS)  # retried: clean clients
    assert r.status is Status.PASS, r.message
    assert "attempt error ratio back under 0.01 10 s after the backend failed" in r.message
    assert r.evidence.figures["outlier_recovery_s"].value == 10
    # no attempt counts (a data plane that did not record them): nothing to judge
    r = result("outlier-growing", run_data(_with_errors(315, 350, 0), healthy_events()), ATTEMPTS)
    assert r.status is Status.INCONCLUSIVE
    assert "no attempt counts of the proxy's pools (pool_traffic) for api-gateway*" in r.message


def test_with_the_attempts_judged_the_clients_error_ratio_over_the_failure_is_judged_apart() -> None:
    """Retries kept the clients clean: a pass that says so. A pod whose retries find no other host
    (a one-pod subset that may not be ejected) leaves its clients 6 % failed: a failure of its own."""
    events = healthy_events()
    events += [_attempts(320 + 5 * i, "api-gateway", 150, 12 if i == 0 else 0) for i in range(7)]
    r = result("outlier-growing", run_data(_with_errors(315, 350, 0), events), ATTEMPTS)
    assert "[pass] clients' error ratio while the backend failed 0.0000 (0/7000), under 0.01: outlier detection " \
           "and the route's retries kept it under the limit" in r.evidence.items, r.evidence.items
    assert r.evidence.figures["outlier_client_error_ratio"].value == 0
    r = result("outlier-growing", run_data(_with_errors(315, 350, 60), events), ATTEMPTS)
    assert r.status is Status.FAIL
    assert r.message.startswith("clients' error ratio while the backend failed 0.0600 (420/7000), above 0.01: "
                                "outlier detection and the route's retries did not keep it under the limit"), r.message
    # judged on the clients alone, the SLO has no such check: its error ratio is the clients' already
    r = result("outlier-growing", run_data(healthy_windows(), events), GROWING.replace("min_ejections: 2",
                                                                                      "min_ejections: 1"))
    assert not any("clients' error ratio" in i for i in r.evidence.items)
