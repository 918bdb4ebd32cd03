"""The `stateful` family: a StatefulSet pod lost with its node comes back under its name with its
claims within T, and a majority stays ready throughout."""

from __future__ import annotations

from typing import Any

import pytest

from aideon_resilience.core.evaluate.verdict import Status
from tests.core.runfactory import ZONES, chaos, ev, experiment, node, result, run_data, without

SLO = """\
environment: test
slos:
  - id: store
    family: stateful
    workloads: ["aideon-knowledge/vector-db"]
    within_s: 90
"""
KEY = "aideon-knowledge/vector-db"


def sts(t: float, replicas: int, ready: int) -> dict[str, Any]:
    return ev("workload", t, namespace="aideon-knowledge", name="vector-db", workload_kind="StatefulSet",
              replicas=replicas, ready=ready)


def pod(t: float, name: str, uid: str, node_name: str | None, ready: bool, phase: str = "Running",
        claims: list[str] | None = None, volumes: dict[str, str] | None = None) -> dict[str, Any]:
    claims = [f"data-{name}"] if claims is None else claims
    return ev("stateful_pod", t, namespace="aideon-knowledge", workload="vector-db", pod=name, uid=uid,
              node=node_name, phase=phase, ready=ready, claims=claims,
              volumes={c: f"pv-{c}" for c in claims} if volumes is None else volumes)


def loss_events(back_at: float = 155, replicas: int = 3) -> list[dict[str, Any]]:
    """vector-db-0's node n1 lost at 107 s; the pod is force-deleted and comes back on n2 (zone-a)."""
    e = [node(0, n) for n in ZONES]
    e += [sts(0, replicas, replicas)]
    e += [pod(0, f"vector-db-{i}", f"u{i}", n, True) for i, n in enumerate(["n1", "n3", "n5"][:replicas])]
    e += [experiment("stateful-node-loss", 100, 260), chaos("stateful-node-loss", "lose-node", 105, 107)]
    e += [chaos("stateful-node-loss", "recover-nodes", 240, 242, type_="rollback")]
    e += [node(106, "n1", ready=False), sts(108, replicas, replicas - 1)]
    e += [pod(140, "vector-db-0", "u0", "n1", False, phase="Terminating"), pod(141, "vector-db-0", "u0", "n1", False,
                                                                                 phase="Deleted")]
    e += [pod(142, "vector-db-0", "u9", "n2", False, phase="Pending"), pod(back_at, "vector-db-0", "u9", "n2", True)]
    e += [sts(back_at, replicas, replicas), node(241, "n1")]
    return e


def test_the_lost_pod_back_under_its_name_with_its_claims_passes_naming_where() -> None:
    r = result("store", run_data(None, loss_events()), SLO)
    assert r.status is Status.PASS, r.message
    assert r.evidence.figures[f"{KEY} vector-db-0 recovery_s"].value == pytest.approx(50)  # 155 - 105
    assert r.evidence.figures[f"{KEY} lowest_ready_during_loss"].value == 2
    items = " ".join(r.evidence.items)
    assert ("vector-db-0 on n1 (zone-a) lost at t+105.0s; back on n2 (zone-a) at t+155.0s with data-vector-db-0 "
            "(volume pv-data-vector-db-0)") in items


def test_a_pod_never_replaced_fails_naming_where_it_was_last_seen() -> None:
    events = [e for e in loss_events() if not (e.get("pod") == "vector-db-0" and e.get("uid") == "u9")]
    events = [e for e in events if not (e["kind"] == "workload" and e["t"] > 1_800_000_150)]
    r = result("store", run_data(None, events), SLO)
    assert r.status is Status.FAIL
    assert f"{KEY}: vector-db-0 not back 90 s after its node n1 was lost (no replacement pod seen)" in r.message


def test_a_replacement_with_another_claim_fails() -> None:
    events = [*without(loss_events(), kind="stateful_pod", uid="u9"),
              pod(142, "vector-db-0", "u9", "n2", False, "Pending", ["data-vector-db-0-new"]),
              pod(155, "vector-db-0", "u9", "n2", True, claims=["data-vector-db-0-new"])]
    r = result("store", run_data(None, events), SLO)
    assert r.status is Status.FAIL
    assert "vector-db-0 came back with claims data-vector-db-0-new, not its own data-vector-db-0" in r.message


def test_a_replacement_whose_claim_is_bound_to_another_volume_fails_naming_both() -> None:
    """The claim was deleted and made again while the pod was gone: same name, empty volume."""
    events = [*without(loss_events(), kind="stateful_pod", uid="u9"),
              pod(142, "vector-db-0", "u9", "n2", False, "Pending", volumes={}),
              pod(155, "vector-db-0", "u9", "n2", True, volumes={"data-vector-db-0": "pv-fresh"})]
    r = result("store", run_data(None, events), SLO)
    assert r.status is Status.FAIL
    assert (f"{KEY}: vector-db-0 came back with data-vector-db-0 on volume pv-fresh, not its own "
            "pv-data-vector-db-0") in r.message


def test_a_volume_read_on_one_side_only_is_not_compared() -> None:
    """Evidence from before the sampler read volumes (or a read that failed) names none: claims decide."""
    events = [*without(loss_events(), kind="stateful_pod", uid="u9"),
              pod(142, "vector-db-0", "u9", "n2", False, "Pending"),
              pod(155, "vector-db-0", "u9", "n2", True, volumes={})]
    r = result("store", run_data(None, events), SLO)
    assert r.status is Status.PASS, r.message


def test_two_replicas_lose_their_majority_when_one_goes() -> None:
    r = result("store", run_data(None, loss_events(replicas=2)), SLO)
    assert r.status is Status.FAIL
    assert f"{KEY}: 1 of 2 replicas ready at t+108.0s, below its majority of 2" in r.message


def test_slow_replacement_warns_and_a_ready_flicker_is_not_back() -> None:
    assert result("store", run_data(None, loss_events(back_at=185)), SLO).status is Status.WARN  # 78 of 90 s
    flicker = [*loss_events(back_at=160), pod(150, "vector-db-0", "u9", "n2", True),
               pod(151, "vector-db-0", "u9", "n2", False)]
    r = result("store", run_data(None, flicker), SLO)
    assert r.evidence.figures[f"{KEY} vector-db-0 recovery_s"].value == pytest.approx(55)  # 160, not 150


def test_a_pod_already_gone_when_the_loss_ends_still_counts_as_lost() -> None:
    # a fast control plane: the pod on n1 was deleted and replaced within the loss action itself
    events = [e for e in loss_events() if not (e["kind"] == "stateful_pod" and e["t"] > 1_800_000_100)]
    events += [pod(106, "vector-db-0", "u0", "n1", False, phase="Deleted"), pod(106.5, "vector-db-0", "u9", "n2", True)]
    r = result("store", run_data(None, events), SLO)
    assert r.status is Status.PASS, r.message
    assert r.evidence.figures[f"{KEY} vector-db-0 recovery_s"].value == pytest.approx(1.5)


def test_missing_evidence_is_inconclusive() -> None:
    assert result("store", run_data(None, None), SLO).status is Status.INCONCLUSIVE
    r = result("store", run_data(None, without(loss_events(), experiment="stateful-node-loss")), SLO)
    assert r.status is Status.INCONCLUSIVE and "no stateful-node-loss experiment" in r.message
    spared = [e for e in loss_events() if not (e["kind"] == "node" and e.get("name") == "n1" and not e["ready"])]
    r = result("store", run_data(None, spared), SLO)
    assert r.status is Status.INCONCLUSIVE and "no pod of it was on the lost node(s)" in r.message
