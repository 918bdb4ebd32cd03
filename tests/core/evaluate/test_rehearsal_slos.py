"""The rehearsal's SLO families: plan_replicas, zone_capacity and the anti-affinity Pending limit."""

from __future__ import annotations

from typing import Any

from aideon_resilience.core.evaluate.verdict import Status
from tests.core.runfactory import GW, NS, chaos, ev, experiment, node, placement, result, run_data, workload

SLOS = """
environment: test
slos:
  - id: plan
    family: plan_replicas
    runs: [rehearsal]
    workloads: ["*"]
    within_s: 60
  - id: capacity
    family: zone_capacity
    runs: [rehearsal]
    workloads: ["*"]
    within_s: 90
  - id: spread
    family: anti_affinity
    workloads: [aideon-backend/api-gateway]
    zone_spread: false
    max_pending_s: 60
"""


def modelled(t: float, users: int, gateway: int) -> dict[str, Any]:
    return ev("modelled_load", t, users=users, needed={GW: gateway})


def ramp(hpa_max: int = 20, lag: float = 30) -> list[dict[str, Any]]:
    """Users ramp to 10,000 over 100 s (the plan needs 2 -> 10 gateways); the HPA follows `lag` later."""
    events = [modelled(t, 1000 * (t // 10 + 1), 2 + (t // 10) * 8 // 9) for t in range(0, 100, 10)]
    events += [workload(t + lag, 2 + (t // 10) * 8 // 9, 2 + (t // 10) * 8 // 9, hpa=(2, hpa_max, 2))
               for t in range(0, 100, 10)]
    return events


def test_an_hpa_that_keeps_up_with_the_plan_passes() -> None:
    r = result("plan", run_data(None, ramp(lag=30)), SLOS)
    assert r.status is Status.PASS, r.message
    assert "peak need 10 at 10,000 modelled users" in r.message


def test_an_hpa_that_lags_the_plan_fails_with_its_shortfall() -> None:
    r = result("plan", run_data(None, ramp(lag=150)), SLOS)
    assert r.status is Status.FAIL
    assert "aideon-backend/api-gateway" in r.message and "the plan needed at least" in r.message


def test_a_plan_need_above_the_hpa_maximum_fails_naming_it() -> None:
    r = result("plan", run_data(None, ramp(hpa_max=8)), SLOS)
    assert r.status is Status.FAIL
    assert "the plan needs 10 replicas at 10,000 modelled users, its HPA maximum is 8" in r.message


def test_the_hpa_tolerance_is_allowed() -> None:
    # the plan needs 10, the HPA settles at 9: within its 10% tolerance it does not scale further
    events = [modelled(0, 10_000, 10), workload(0, 9, 9, hpa=(2, 20, 9)), workload(200, 9, 9, hpa=(2, 20, 9))]
    assert result("plan", run_data(None, events), SLOS).status is Status.PASS
    events = [modelled(0, 10_000, 10), workload(0, 8, 8, hpa=(2, 20, 8)), workload(200, 8, 8, hpa=(2, 20, 8))]
    assert result("plan", run_data(None, events), SLOS).status is Status.FAIL


def test_no_modelled_load_is_inconclusive() -> None:
    events = [workload(0, 3, 3)]
    r = result("plan", run_data(None, events), SLOS)
    assert r.status is Status.INCONCLUSIVE and "no modelled load recorded" in r.message
    r = result("capacity", run_data(None, events), SLOS)
    assert r.status is Status.INCONCLUSIVE and "no modelled load recorded" in r.message


def outage(after: list[dict[str, Any]], recovered_at: float = 500) -> list[dict[str, Any]]:
    """Peak: the plan needs 6 gateways (5 within the HPA's tolerance), 2 per zone; zone-a (n1, n2)
    is lost at 300-310 s and back at `recovered_at`. The Deployment keeps reporting 6 Ready: the
    pods on the lost nodes look Ready but carry nothing."""
    events = [modelled(0, 6000, 6), workload(100, 6, 6, hpa=(2, 20, 6)),
              *(node(0, n) for n in ("n1", "n2", "n3", "n4", "n5", "n6")),
              *(placement(100, n, 1) for n in ("n1", "n2", "n3", "n4", "n5", "n6")),
              experiment("zone-outage", 290, recovered_at), chaos("zone-outage", "zone-outage", 300, 310),
              node(308, "n1", ready=False), node(309, "n2", ready=False)]
    return [*events, *after]


def test_capacity_back_on_the_surviving_zones_within_the_limit_passes() -> None:
    # the lost pods are replaced on n3 and n5 by 360 s: 6 on the surviving zones again
    replaced = [placement(360, "n3", 2), placement(361, "n5", 2), placement(362, "n1", 0), placement(362, "n2", 0)]
    r = result("capacity", run_data(None, outage(replaced)), SLOS)
    assert r.status is Status.PASS, r.message
    assert r.evidence.figures[f"{NS}/{GW} surviving ready after outage"].value == 6


def test_pods_on_a_lost_zone_do_not_count_though_reported_ready() -> None:
    r = result("capacity", run_data(None, outage([])), SLOS)
    assert r.status is Status.FAIL
    assert "4 ready replicas on the surviving zones" in r.message and "the plan needs 5 (short by 1)" in r.message


def test_capacity_back_too_late_fails() -> None:
    late = [placement(450, "n3", 2), placement(450, "n5", 2)]
    r = result("capacity", run_data(None, outage(late)), SLOS)
    assert r.status is Status.FAIL and "short by 1" in r.message


def test_a_zone_lost_for_less_than_the_limit_is_inconclusive() -> None:
    r = result("capacity", run_data(None, outage([], recovered_at=380)), SLOS)
    assert r.status is Status.INCONCLUSIVE and "the zone was lost for 70s, not longer than the 90s limit" in r.message


def test_no_zone_outage_is_inconclusive() -> None:
    events = [modelled(0, 9000, 9), workload(100, 9, 9, hpa=(2, 20, 9))]
    r = result("capacity", run_data(None, events), SLOS)
    assert r.status is Status.INCONCLUSIVE and "no '*zone*' action of zone-outage ran" in r.message


def pending(t: float, pods: int) -> dict[str, Any]:
    return ev("pending", t, namespace=NS, workload=GW, pods=pods)


def placed() -> list[dict[str, Any]]:
    return [placement(0, "n1", 1)]


def test_pods_pending_past_the_limit_fail() -> None:
    r = result("spread", run_data(None, [*placed(), pending(100, 2), pending(200, 0)]), SLOS)
    assert r.status is Status.FAIL and "a pod stayed Pending 100s from t+100.0s (limit 60s)" in r.message


def test_pods_pending_briefly_pass_and_pending_at_the_end_counts_to_the_end() -> None:
    assert result("spread", run_data(None, [*placed(), pending(100, 2), pending(130, 0)]), SLOS).status is Status.PASS
    r = result("spread", run_data(None, [*placed(), pending(500, 1)], end=600), SLOS)
    assert r.status is Status.FAIL and "Pending 100s" in r.message
