"""The `zone_outage` family of a gate: critical services back to their minimum on the surviving
zones within T, one replica per node meanwhile."""

from __future__ import annotations

from typing import Any

import pytest

from aideon_resilience.core.evaluate.verdict import Status
from tests.core.runfactory import T0, ZONES, chaos, ev, experiment, node, placement, result, run_data, without

SLO = """\
environment: test
slos:
  - id: zone-gateway
    family: zone_outage
    workloads: ["*/api-gateway"]
    within_s: 60
"""
KEY = "aideon-backend/api-gateway"


def gw(t: float, replicas: int, ready: int, anti_affinity: str = "required") -> dict[str, Any]:
    return ev("workload", t, namespace="aideon-backend", name="api-gateway", workload_kind="Deployment",
              replicas=replicas, ready=ready, hpa_min=3, hpa_max=5, anti_affinity=anti_affinity)


def outage_events(replaced_at: float = 440, rollback_at: float = 470) -> list[dict[str, Any]]:
    """zone-a (n1, n2) lost at 400 s; the gateway's replica on n1 is evicted and comes back on n4."""
    e = [node(0, n) for n in ZONES]
    e += [gw(0, 3, 3), placement(0, "n1", 1), placement(0, "n3", 1), placement(0, "n5", 1)]
    e += [experiment("zone-outage", 390, 500), chaos("zone-outage", "zone-outage", 395, 400)]
    e += [chaos("zone-outage", "recover-zone", rollback_at, rollback_at + 2, type_="rollback")]
    e += [node(399, "n1", ready=False), node(399, "n2", ready=False)]
    e += [gw(401, 3, 2)]  # the replica on n1 is marked not ready with its node
    e += [placement(replaced_at, "n1", 0), placement(replaced_at, "n4", 1), gw(replaced_at + 1, 3, 3)]
    e += [node(rollback_at + 1, "n1"), node(rollback_at + 1, "n2")]
    return e


def test_a_service_back_to_its_minimum_on_the_surviving_zones_passes_with_the_time() -> None:
    r = result("zone-gateway", run_data(None, outage_events()), SLO)
    assert r.status is Status.PASS, r.message
    assert r.evidence.figures[f"{KEY} zone_recovery_s"].value == pytest.approx(41)  # 441 - 400
    assert f"{KEY}: never two replicas on one node" in " ".join(r.evidence.items)


def test_a_replica_still_counted_ready_on_a_lost_node_does_not_count() -> None:
    # the Deployment still reports 3 ready: the one on n1 is on a lost node and carries nothing
    events = [*without(outage_events(), kind="workload", t=T0 + 401), gw(401, 3, 3)]
    r = result("zone-gateway", run_data(None, events), SLO)
    # 40 s: when the replacement is placed on n4 (ready as reported), not 0 s
    assert r.evidence.figures[f"{KEY} zone_recovery_s"].value == pytest.approx(40)


def test_a_service_that_stays_short_fails_naming_its_count_and_minimum() -> None:
    events = outage_events(replaced_at=700, rollback_at=480)  # never replaced while the zone was lost
    r = result("zone-gateway", run_data(None, events, end=800), SLO)
    assert r.status is Status.FAIL
    assert (f"{KEY}: 2 ready replicas on the surviving zones after the zone was lost at t+400.0s, never back "
            "to its minimum 3 within 60 s") in r.message


def test_slow_recovery_warns_and_a_zone_back_before_the_limit_is_inconclusive() -> None:
    assert result("zone-gateway", run_data(None, outage_events(replaced_at=452)), SLO).status is Status.WARN
    quick = outage_events(replaced_at=700, rollback_at=430)
    r = result("zone-gateway", run_data(None, quick, end=800), SLO)
    assert r.status is Status.INCONCLUSIVE and "the zone was back 30 s after it was lost" in r.message


def test_two_replicas_on_one_node_during_the_outage_fail_the_anti_affinity_half() -> None:
    events = [*outage_events(), placement(445, "n3", 2)]
    r = result("zone-gateway", run_data(None, events), SLO)
    assert r.status is Status.FAIL and f"{KEY}: 2 replicas on node n3 at t+445.0s" in r.message
    # a service that does not require anti-affinity is not judged on it
    relaxed = [{**e, "anti_affinity": "preferred"} if e["kind"] == "workload" else e for e in events]
    assert result("zone-gateway", run_data(None, relaxed), SLO).status is Status.PASS


def test_missing_evidence_is_inconclusive() -> None:
    assert result("zone-gateway", run_data(None, None), SLO).status is Status.INCONCLUSIVE
    r = result("zone-gateway", run_data(None, without(outage_events(), experiment="zone-outage")), SLO)
    assert r.status is Status.INCONCLUSIVE and "no zone-outage experiment" in r.message
    r = result("zone-gateway", run_data(None, without(outage_events(), activity="zone-outage")), SLO)
    assert r.status is Status.INCONCLUSIVE and "no zone outage action (*zone*) in zone-outage" in r.message
