from __future__ import annotations

from aideon_resilience.core.evaluate.verdict import Status
from tests.core.runfactory import healthy_events, node, placement, result, run_data


def test_healthy_spread_passes() -> None:
    r = result("anti-affinity-gateway", run_data(None, healthy_events()))
    assert r.status is Status.PASS
    assert r.evidence.figures["aideon-backend/api-gateway zones"].value == 3


def test_two_replicas_on_one_node_fails_naming_node_and_time() -> None:
    events = [*healthy_events(), placement(500, "n2", 2)]
    r = result("anti-affinity-gateway", run_data(None, events))
    assert r.status is Status.FAIL
    assert "2 replicas on node n2 at t+500.0s" in r.message


def test_zones_not_spread_at_the_end_fails() -> None:
    # after rescheduling, every replica ends up in zone-a and zone-b although zone-c is back
    events = [*healthy_events(), placement(500, "n5", 0), placement(500, "n1", 1)]
    r = result("anti-affinity-gateway", run_data(None, events))
    assert r.status is Status.FAIL
    assert "span 2 zone(s) at the end, needed 3" in r.message


def test_anti_affinity_not_required_in_the_pod_template_fails() -> None:
    events = [{**e, "anti_affinity": "preferred"} if e["kind"] == "workload" else e for e in healthy_events()]
    r = result("anti-affinity-gateway", run_data(None, events))
    assert r.status is Status.FAIL
    assert "aideon-backend/api-gateway: pod template has preferred hostname anti-affinity, not required" in r.message
    required = [{**e, "anti_affinity": "required"} if e["kind"] == "workload" else e for e in healthy_events()]
    assert result("anti-affinity-gateway", run_data(None, required)).status is Status.PASS


def test_unavailable_zone_lowers_the_need() -> None:
    events = [*healthy_events(), placement(500, "n5", 0), placement(500, "n1", 1),
              node(500, "n5", ready=False), node(500, "n6", ready=False)]
    assert result("anti-affinity-gateway", run_data(None, events)).status is Status.PASS


def test_missing_data_is_inconclusive() -> None:
    assert result("anti-affinity-gateway", run_data(None, None)).status is Status.INCONCLUSIVE
    no_placement = [e for e in healthy_events() if e["kind"] != "placement"]
    assert result("anti-affinity-gateway", run_data(None, no_placement)).status is Status.INCONCLUSIVE
    no_zone = [{**e, "zone": None} if e["kind"] in ("placement", "node") else e for e in healthy_events()]
    r = result("anti-affinity-gateway", run_data(None, no_zone))
    assert r.status is Status.INCONCLUSIVE and "zone of node" in r.message


SPREAD_AFTER = """
environment: test
slos:
  - id: anti-affinity-gateway
    family: anti_affinity
    workloads: [aideon-backend/api-gateway]
    spread_after: [pod-kill, node-drain]
"""


def test_spread_after_rescheduling_ignores_a_later_scale_down_but_not_a_bad_reschedule() -> None:
    # after the last rescheduling experiment (node-drain ends at 220) an HPA scale-down at 500
    # leaves two zones: the run's end is not what `spread_after` judges
    later = [*healthy_events(), placement(500, "n5", 0), placement(500, "n1", 1)]
    r = result("anti-affinity-gateway", run_data(None, later), SPREAD_AFTER)
    assert r.status is Status.PASS, r.message
    assert "span 3 zone(s) after node-drain" in r.message
    # the same packing inside the drain (before it ends at 220) fails, naming the experiment
    during = [*healthy_events(), placement(200, "n5", 0), placement(200, "n1", 1)]
    r = result("anti-affinity-gateway", run_data(None, during), SPREAD_AFTER)
    assert r.status is Status.FAIL
    assert "span 2 zone(s) after node-drain, needed 3" in r.message


def test_spread_after_experiments_that_never_ran_is_inconclusive() -> None:
    events = [e for e in healthy_events() if e.get("experiment") not in ("pod-kill", "node-drain")]
    r = result("anti-affinity-gateway", run_data(None, events), SPREAD_AFTER)
    assert r.status is Status.INCONCLUSIVE and "none of pod-kill, node-drain ran" in r.message
