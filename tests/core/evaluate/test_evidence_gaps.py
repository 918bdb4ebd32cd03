"""An SLO whose evidence stream went blind during the run is never a pass (issue 12)."""

from __future__ import annotations

from aideon_resilience.core.evaluate import evaluate
from aideon_resilience.core.evaluate.slo import SloFile
from aideon_resilience.core.evaluate.verdict import Status
from tests.core.runfactory import SLO_YAML, T0, ev, healthy_events, healthy_windows, run_data


def _slos() -> SloFile:
    import yaml

    return SloFile.model_validate(yaml.safe_load(SLO_YAML))


def _statuses(events: list[dict[str, object]]) -> dict[str, tuple[str, Status, str]]:
    v = evaluate(_slos(), run_data(healthy_windows(), events))
    return {r.id: (r.family, r.status, r.message) for r in v.slos}


def test_a_gap_in_the_pods_watch_makes_placement_slos_inconclusive_and_names_it() -> None:
    clean = _statuses(healthy_events())
    gap = ev("evidence_gap", 130, stream="pods", start=T0 + 120, reason="ConnectionRefusedError")
    blind = _statuses([*healthy_events(), gap])
    changed = {k for k in clean if clean[k][1] != blind[k][1]}
    assert changed, "the gap changed nothing"
    for slo_id in changed:
        family, status, message = blind[slo_id]
        assert family in {"anti_affinity", "zone_capacity"}
        assert clean[slo_id][1] in (Status.PASS, Status.WARN)
        assert status is Status.INCONCLUSIVE
        assert message.startswith("evidence gap: the pods watch was blind from t+120.0s to t+130.0s "
                                  "(ConnectionRefusedError); without it: ")
    # client SLOs read Locust's windows, not the watches: untouched
    assert all(blind[k] == clean[k] for k in clean if clean[k][0] == "client")


def test_a_gap_in_the_workload_watches_makes_hpa_and_recovery_inconclusive() -> None:
    clean = _statuses(healthy_events())
    blind = _statuses([*healthy_events(), ev("evidence_gap", 90, stream="deployments", start=T0 + 80)])
    for slo_id, (family, status, _) in blind.items():
        if family in {"hpa", "recovery"} and clean[slo_id][1] is Status.PASS:
            assert status is Status.INCONCLUSIVE, slo_id
    assert any(f in {"hpa", "recovery"} for f, _, _ in blind.values())


def test_a_gap_outside_the_run_or_a_failure_is_left_as_it_was() -> None:
    clean = _statuses(healthy_events())
    before_start = ev("evidence_gap", -5, stream="pods", start=T0 - 30)
    assert _statuses([*healthy_events(), before_start]) == clean
    # a failed SLO stays failed: what failed was seen outside the gap
    events = [e for e in healthy_events() if e["kind"] != "pdb"]
    events += [ev("pdb", 100, namespace="aideon-backend", name="api-gateway", current_healthy=0, desired_healthy=2,
                  disruptions_allowed=0, expected_pods=3)]
    failed = _statuses(events)
    with_gap = _statuses([*events, ev("evidence_gap", 300, stream="pdbs", start=T0 + 290)])
    assert any(f == "pdb" and s is Status.FAIL for f, s, _ in failed.values())
    for slo_id, (family, status, _) in failed.items():
        if family == "pdb" and status is Status.FAIL:
            assert with_gap[slo_id][1] is Status.FAIL
