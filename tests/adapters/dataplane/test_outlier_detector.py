"""Envoy's outlier detection (v1.31, as Istio programs it) rule by rule, with a fake clock.

Each test is named after the Envoy behaviour it pins (outlier_detection_impl.cc, the v1.28.0 and
v1.31.0 changelogs, LoadBalancerBase::isHostSetInPanic) and fails if the detector departs from it.
"""

from __future__ import annotations

import pytest

from aideon_resilience.adapters.dataplane.outlier_detector import (
    DetectorConfig,
    Host,
    OutlierDetector,
    OutlierEvent,
)
from aideon_resilience.adapters.dataplane.proxy_config import outlier_from_destination_rule

A: Host = ("127.0.0.1", 4001)
B: Host = ("127.0.0.1", 4002)
C: Host = ("127.0.0.1", 4003)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def _detector(clock: Clock, hosts: tuple[Host, ...] = (A, B), **kw: object) -> OutlierDetector:
    cfg = DetectorConfig(**{"consecutive_5xx": 3, "interval_s": 1.0, "base_ejection_s": 10.0,
                            "max_ejection_percent": 100, **kw})  # type: ignore[arg-type]  # fmt: skip
    d = OutlierDetector(cfg, clock.now)
    d.set_hosts(hosts)
    return d


def _fail(d: OutlierDetector, host: Host, n: int, now: float, status: int = 500) -> list[str]:
    kinds = []
    for _ in range(n):
        kinds += [e.kind for e in d.record(host, status, now)]
    return kinds


def _third_error(d: OutlierDetector, host: Host, now: float) -> list[OutlierEvent]:
    """Two 5xx, then the events of the third (the threshold of `_detector`)."""
    _fail(d, host, 2, now)
    return d.record(host, 500, now)


def _sweep_until(d: OutlierDetector, clock: Clock, host: Host, step: float = 0.25) -> float:
    """Advance the clock in small steps, ticking, until `host` is returned; when that happened."""
    for _ in range(10_000):
        now = clock.advance(step)
        if any(e.kind == "uneject" and e.host == host for e in d.tick(now)):
            return now
    raise AssertionError("never returned")


def test_consecutive_5xx_ejects_at_the_threshold_and_not_before() -> None:
    clock = Clock()
    d = _detector(clock)
    assert _fail(d, A, 2, clock.now) == []
    assert d.ejected() == set()
    events = d.record(A, 503, clock.now)
    assert [(e.kind, e.reason, e.ejection, e.duration_s) for e in events] == [("eject", "consecutive_5xx", 1, 10.0)]
    assert d.ejected() == {A} and d.routable() == {B}


def test_any_non_5xx_response_resets_the_consecutive_counts() -> None:
    clock = Clock()
    d = _detector(clock)
    for _ in range(5):
        _fail(d, A, 2, clock.now)
        assert d.record(A, 404, clock.now) == []  # a 4xx is a success for outlier detection
    assert d.ejected() == set()


def test_gateway_errors_eject_only_when_consecutive_gateway_errors_is_enforced() -> None:
    clock = Clock()
    off = _detector(clock, consecutive_5xx=0)  # consecutiveGatewayErrors unset: Envoy enforces 0 %
    assert _fail(off, A, 20, clock.now, 502) == []
    on = _detector(clock, consecutive_5xx=10, consecutive_gateway=2)
    assert [e.reason for e in on.record(A, 504, clock.now) + on.record(A, 503, clock.now)] == [
        "consecutive_gateway_failure"
    ]


def test_a_non_gateway_5xx_resets_the_gateway_count_but_counts_as_5xx() -> None:
    clock = Clock()
    d = _detector(clock, consecutive_5xx=4, consecutive_gateway=2)
    d.record(A, 502, clock.now)
    d.record(A, 500, clock.now)  # resets the gateway count, 2 consecutive 5xx so far
    assert d.record(A, 502, clock.now) == []  # gateway 1, 5xx 3
    events = d.record(A, 503, clock.now)  # gateway 2 and 5xx 4 at once: the gateway trigger comes first
    assert [(e.kind, e.reason) for e in events] == [("eject", "consecutive_gateway_failure")]


def test_count_past_the_threshold_does_not_trigger_again_until_reset() -> None:
    # Envoy compares with `==`: an overflowed trigger resets only the count that fired.
    clock = Clock()
    d = _detector(clock, hosts=(A, B, C), max_ejection_percent=40)
    assert _fail(d, A, 3, clock.now) == ["eject"]
    assert _fail(d, B, 3, clock.now) == ["overflow"]  # 2 of 3 would be 67 % > 40 %
    assert _fail(d, B, 2, clock.now) == []  # the count was reset at the refused trigger
    assert _fail(d, B, 1, clock.now) == ["overflow"]


def test_max_ejection_percent_is_checked_before_ejecting_counting_the_host_to_eject() -> None:
    clock = Clock()
    d = _detector(clock, hosts=(A, B, C), max_ejection_percent=50)
    assert _fail(d, A, 3, clock.now) == ["eject"]  # 1/3 = 33 % <= 50 %
    assert _fail(d, B, 3, clock.now) == ["overflow"]  # 2/3 = 67 % > 50 %: Envoy >= 1.28 refuses
    assert d.ejected() == {A}
    two = _detector(clock, hosts=(A, B), max_ejection_percent=50)
    assert _fail(two, A, 3, clock.now) == ["eject"]  # 1/2 = 50 %: allowed (<=)


def test_first_ejection_respects_max_ejection_percent_unless_always_eject_one_host() -> None:
    # Envoy v1.28 made max_ejection_percent apply to the first ejection; v1.31 added
    # always_eject_one_host (false by default, never set by Istio) for the old "at least one".
    clock = Clock()
    d = _detector(clock, hosts=(A, B, C), max_ejection_percent=10)
    assert _fail(d, A, 3, clock.now) == ["overflow"]
    one = _detector(clock, hosts=(A, B, C), max_ejection_percent=10, always_eject_one_host=True)
    assert _fail(one, A, 3, clock.now) == ["eject"]
    assert _fail(one, B, 3, clock.now) == ["overflow"]


def test_an_ejected_host_returns_only_at_an_interval_sweep_after_its_ejection_time() -> None:
    clock = Clock()
    d = _detector(clock, interval_s=4.0, base_ejection_s=10.0)
    ejected_at = clock.advance(1.0)
    _fail(d, A, 3, ejected_at)
    # Sweeps run every 4 s from the detector's start (t0+4, t0+8, t0+12, ...): at t0+8 only
    # 7 s have passed, so A returns at the t0+12 sweep, 11 s after its ejection, not at 10 s.
    assert d.tick(clock.advance(3.0)) == []  # t0+4
    assert d.tick(clock.advance(4.0)) == []  # t0+8
    assert d.tick(clock.advance(2.9)) == []  # t0+10.9: ejection time over, but no sweep is due
    assert A in d.ejected()
    events = d.tick(clock.advance(1.1))  # t0+12: the sweep
    assert [(e.kind, e.host, round(e.duration_s, 6)) for e in events] == [("uneject", A, 11.0)]
    assert d.ejected() == set()


def test_ejection_time_is_base_ejection_time_times_the_number_of_ejections() -> None:
    clock = Clock()
    d = _detector(clock, interval_s=0.5, base_ejection_s=10.0)
    first = _third_error(d, A, clock.now)
    back = _sweep_until(d, clock, A)
    second = _third_error(d, A, back)  # fails again right after its return
    assert (first[0].ejection, first[0].duration_s) == (1, 10.0)
    assert (second[0].ejection, second[0].duration_s) == (2, 20.0)
    back2 = _sweep_until(d, clock, A)
    assert back2 - back == pytest.approx(20.0, abs=0.5)


def test_ejection_time_is_capped_by_max_ejection_time_defaulting_to_300s_or_base() -> None:
    assert DetectorConfig(base_ejection_s=30.0).max_ejection_time_s == 300.0
    assert DetectorConfig(base_ejection_s=600.0).max_ejection_time_s == 600.0
    clock = Clock()
    d = _detector(clock, interval_s=1.0, base_ejection_s=100.0)
    durations = []
    for _ in range(5):
        events = _third_error(d, A, clock.now)
        durations.append(events[0].duration_s)
        _sweep_until(d, clock, A, step=1.0)
    assert durations == [100.0, 200.0, 300.0, 300.0, 300.0]
    # the multiplier stops growing once multiplier x base >= max + base (4 x 100 >= 400)
    assert d.multiplier(A) == 4


def test_multiplier_decrements_at_sweeps_once_the_host_has_been_back_one_interval() -> None:
    clock = Clock()
    d = _detector(clock, interval_s=1.0, base_ejection_s=10.0)
    for _ in range(2):
        _fail(d, A, 3, clock.now)
        back = _sweep_until(d, clock, A, step=1.0)
    assert d.multiplier(A) == 2
    # The sweep that returned A leaves its multiplier alone (back for 0 s, less than an interval);
    # each later sweep takes one off.
    d.tick(clock.advance(1.0))
    assert clock.now - back == 1.0 and d.multiplier(A) == 1
    d.tick(clock.advance(1.0))
    assert d.multiplier(A) == 0
    d.tick(clock.advance(1.0))
    assert d.multiplier(A) == 0
    events = _third_error(d, A, clock.now)
    assert (events[0].ejection, events[0].duration_s) == (3, 10.0)  # third ejection, base time again


def test_multiplier_does_not_decay_while_the_host_is_ejected() -> None:
    clock = Clock()
    d = _detector(clock, interval_s=1.0, base_ejection_s=10.0)
    _fail(d, A, 3, clock.now)
    for _ in range(5):
        d.tick(clock.advance(1.0))
    assert A in d.ejected() and d.multiplier(A) == 1


def test_an_already_ejected_host_is_not_ejected_again() -> None:
    clock = Clock()
    d = _detector(clock, hosts=(A, B), panic_threshold_percent=60)
    assert _fail(d, A, 3, clock.now) == ["eject"]
    assert d.in_panic()  # traffic still reaches A; its errors count but do not eject it again
    assert _fail(d, A, 9, clock.now) == []


def test_returned_host_starts_with_fresh_counts() -> None:
    clock = Clock()
    d = _detector(clock, interval_s=0.5, base_ejection_s=2.0)
    _fail(d, A, 3, clock.now)
    _fail(d, A, 2, clock.now)  # errors while ejected (panic or in-flight) do not carry over
    back = _sweep_until(d, clock, A)
    assert d.record(A, 500, back) == [] and d.record(A, 500, back) == []
    assert [e.kind for e in d.record(A, 500, back)] == ["eject"]


def test_panic_when_healthy_share_is_under_the_threshold_routes_to_all_hosts() -> None:
    clock = Clock()
    d = _detector(clock, hosts=(A, B, C), panic_threshold_percent=50)
    _fail(d, A, 3, clock.now)
    assert not d.in_panic() and d.routable() == {B, C}  # 67 % healthy
    _fail(d, B, 3, clock.now)
    assert d.in_panic() and d.routable() == {A, B, C}  # 33 % < 50 %: all hosts, ejected included
    assert d.ejected() == {A, B}  # ejection state is kept in panic


def test_no_panic_when_istio_leaves_min_health_percent_at_zero() -> None:
    clock = Clock()
    d = _detector(clock, hosts=(A, B))  # Istio sets healthy_panic_threshold to 0 by default
    _fail(d, A, 3, clock.now)
    _fail(d, B, 3, clock.now)
    assert not d.in_panic() and d.routable() == set()  # Envoy: no healthy upstream, 503


def test_host_leaving_the_pool_frees_its_ejection_slot_and_comes_back_fresh() -> None:
    clock = Clock()
    d = _detector(clock, hosts=(A, B, C), max_ejection_percent=50)
    _fail(d, A, 3, clock.now)
    assert _fail(d, B, 3, clock.now) == ["overflow"]  # 2 of 3 > 50 %
    d.set_hosts([B, C])  # A's endpoint went away (not Ready): nothing is ejected any more
    assert _fail(d, B, 3, clock.now) == ["eject"]  # 1 of 2 = 50 %
    d.set_hosts([A, B, C])
    assert A not in d.ejected() and d.multiplier(A) == 0


def test_istio_fields_map_to_the_detector_as_pilot_programs_envoy() -> None:
    dr = {"metadata": {"name": "g", "namespace": "n"}, "spec": {"trafficPolicy": {"outlierDetection": {
        "consecutive5xxErrors": 2, "consecutiveGatewayErrors": 1, "interval": "2s", "baseEjectionTime": "5s",
        "maxEjectionPercent": 0, "minHealthPercent": 40}}}}  # fmt: skip
    cfg = outlier_from_destination_rule(dr).detector_config()
    assert (cfg.consecutive_5xx, cfg.consecutive_gateway, cfg.interval_s, cfg.base_ejection_s) == (2, 1, 2.0, 5.0)
    assert cfg.max_ejection_percent == 10  # Istio sends maxEjectionPercent only when > 0
    assert cfg.panic_threshold_percent == 40 and cfg.max_ejection_time_s == 300.0
    assert not cfg.always_eject_one_host
    defaults = outlier_from_destination_rule({"spec": {"trafficPolicy": {"outlierDetection": {"interval": "1s"}}}})
    dc = defaults.detector_config()
    assert (dc.consecutive_5xx, dc.consecutive_gateway, dc.panic_threshold_percent) == (5, 0, 0)
