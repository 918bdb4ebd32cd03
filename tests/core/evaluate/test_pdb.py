from __future__ import annotations

from aideon_resilience.core.evaluate.verdict import Status
from tests.core.runfactory import NS, T0, chaos, ev, healthy_events, pdb, result, run_data, without


def test_healthy_passes_and_lists_refusals() -> None:
    r = result("pdb-held", run_data(None, healthy_events()))
    assert r.status is Status.PASS
    assert r.evidence.figures["evictions_refused"].value == 1
    assert any("pod aideon-backend/api-gateway-abc by PDB api-gateway on node n1" in i for i in r.evidence.items)
    assert any("refused by api-gateway" in i for i in r.evidence.items)


def test_breach_within_tolerance_warns_beyond_fails() -> None:
    short = [*healthy_events(), pdb(500, 1), pdb(530, 3)]  # 30 s of 120 s allowed
    r = result("pdb-held", run_data(None, short))
    assert r.status is Status.WARN and "healthy below minimum for 30 s (first at t+500.0s: 1/2" in r.message
    long = [*healthy_events(), pdb(400, 1)]  # until the end of the run at 600 s
    r = result("pdb-held", run_data(None, long))
    assert r.status is Status.FAIL and "for 200 s" in r.message


def test_failed_drain_fails_naming_the_budget() -> None:
    events = without(healthy_events(), kind="chaos", activity="drain-nodes")
    events += [chaos("node-drain", "drain-nodes", 135, 300, status="failed")]
    events += [ev("eviction_refused", 200 + i, namespace=NS, pod="api-gateway-x", pdb="api-gateway", node="n1")
               for i in range(3)]
    r = result("pdb-held", run_data(None, events))
    assert r.status is Status.FAIL
    assert "drain failed: drain-nodes in node-drain (refused by api-gateway)" in r.message
    assert r.evidence.figures["evictions_refused"].value == 4


def test_slow_drain_fails() -> None:
    events = without(healthy_events(), kind="chaos", activity="drain-nodes")
    events += [chaos("node-drain", "drain-nodes", 135, 290)]
    r = result("pdb-held", run_data(None, events))
    assert r.status is Status.FAIL and "longest 155 s (limit 120 s)" in r.message


def test_missing_data_is_inconclusive() -> None:
    assert result("pdb-held", run_data(None, None)).status is Status.INCONCLUSIVE
    no_pdb = [e for e in healthy_events() if e["kind"] != "pdb"]
    r = result("pdb-held", run_data(None, no_pdb))
    assert r.status is Status.INCONCLUSIVE and "no PDB sample" in r.message
    no_drain = without(healthy_events(), kind="chaos", activity="drain-nodes")
    r = result("pdb-held", run_data(None, no_drain))
    assert r.status is Status.INCONCLUSIVE and "no drain action" in r.message
    assert T0 > 0
