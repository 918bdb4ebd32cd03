"""PDB-aware drain, uncordon and node share caps against a fake API."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from aideon_resilience.chaos import undo
from aideon_resilience.chaos.actions import DrainTimedOut, drain_nodes, uncordon_nodes
from aideon_resilience.core.evidence.timeline import parse_event
from aideon_resilience.errors import SafetyRefusal
from tests.chaos.fakekube import FakeKube, api_error, pdb, pod

NS = "aideon-backend"
APP = {"app.kubernetes.io/name": "api-gateway"}


def _gateway(fake: FakeKube, healthy: int = 2, desired: int = 1) -> None:
    fake.core.namespaces[NS] = {"chaos.aideon.io/allowed": "true"}
    fake.core.pods[(NS, "gw-1")] = pod("gw-1", NS, "node-a1", APP)
    fake.core.pods[(NS, "gw-2")] = pod("gw-2", NS, "node-b1", APP)
    fake.core.pods[("kube-system", "ds-1")] = pod("ds-1", "kube-system", "node-a1", owner_kind="DaemonSet")
    fake.core.pods[("kube-system", "mirror-1")] = pod(
        "mirror-1", "kube-system", "node-a1", annotations={"kubernetes.io/config.mirror": "x"}
    )
    fake.policy.pdbs.append(pdb("api-gateway", NS, APP, healthy, desired))


def _refuse_first(n: int) -> object:
    calls = {"n": 0}

    def hook(p: SimpleNamespace) -> None:
        calls["n"] += 1
        if calls["n"] <= n:
            raise api_error(429)

    return hook


def test_drain_retries_429_then_succeeds_and_records_refusals(fake: FakeKube) -> None:
    _gateway(fake)
    fake.core.on_evict = _refuse_first(2)  # type: ignore[assignment]
    out = drain_nodes(name="node-a1", timeout=10, backoff_max=0.05)
    assert fake.core.nodes["node-a1"].spec.unschedulable is True
    assert fake.core.evictions == [f"{NS}/gw-1"]
    assert out["refusals_total"] == 2
    first = out["refusals"][0]
    assert first["pod"] == f"{NS}/gw-1"
    assert first["pdb"] == {
        "namespace": NS, "name": "api-gateway", "current_healthy": 2, "desired_healthy": 1,
        "disruptions_allowed": 1, "expected_pods": 2,
    }  # fmt: skip
    lines = (undo.current().directory / "evidence.jsonl").read_text().splitlines()
    events = [parse_event(line) for line in lines]
    assert [(e.kind, e.pod, e.pdb, e.node) for e in events if e is not None] == [  # type: ignore[attr-defined]
        ("eviction_refused", "gw-1", "api-gateway", "node-a1")
    ] * 2
    skipped = {s["pod"]: s["reason"] for s in out["nodes"][0]["skipped"]}
    assert skipped == {"kube-system/ds-1": "DaemonSet pod", "kube-system/mirror-1": "mirror pod"}
    json.dumps(out)  # the journal must be able to hold it


def test_drain_times_out_naming_the_budget_and_rollback_uncordons(fake: FakeKube) -> None:
    _gateway(fake, healthy=2, desired=2)

    def always_refuse(p: SimpleNamespace) -> None:
        raise api_error(429)

    fake.core.on_evict = always_refuse
    with pytest.raises(DrainTimedOut) as info:
        drain_nodes(name="node-a1", timeout=0.3, backoff_max=0.05)
    msg = str(info.value)
    assert msg.startswith("drain of node node-a1 timed out after 0.3s: ")
    assert f"PodDisruptionBudget {NS}/api-gateway allows 0 disruptions (healthy 2, minimum 2)" in msg
    assert info.value.evidence["refusals_total"] >= 1
    assert fake.core.nodes["node-a1"].spec.unschedulable is True
    assert len(undo.current().pending("uncordon_node")) == 1
    out = uncordon_nodes()  # the experiment's rollback: no target = what this run cordoned
    assert out["uncordoned"] == ["node-a1"]
    assert fake.core.nodes["node-a1"].spec.unschedulable is False
    assert undo.current().pending() == []


def test_undo_step_is_on_disk_before_the_cordon(fake: FakeKube) -> None:
    _gateway(fake)
    seen: list[int] = []

    def check(name: str, body: dict[str, object]) -> None:
        if body == {"spec": {"unschedulable": True}}:
            pending = [s for s in undo.current().pending("uncordon_node") if s.params["node"] == name]
            seen.append(len(pending))
            assert all(Path(s.path).is_file() for s in pending)

    fake.core.on_patch_node = check
    drain_nodes(name="node-a1", timeout=5, backoff_max=0.05)
    assert seen == [1]


def test_interrupt_mid_drain_uncordons_and_propagates(fake: FakeKube) -> None:
    _gateway(fake)

    def interrupt(p: SimpleNamespace) -> None:
        raise KeyboardInterrupt

    fake.core.on_evict = interrupt
    with pytest.raises(KeyboardInterrupt):
        drain_nodes(name="node-a1", timeout=5)
    assert fake.core.nodes["node-a1"].spec.unschedulable is False
    assert undo.current().pending() == []


def test_drain_needs_an_explicit_target(fake: FakeKube) -> None:
    with pytest.raises(SafetyRefusal, match="drain_nodes needs an explicit target"):
        drain_nodes()
    assert fake.core.mutations == []


def test_node_share_cap_refuses_before_any_change(fake: FakeKube) -> None:
    # 3 of 6 nodes is above the default 0.34 share (2 nodes)
    with pytest.raises(SafetyRefusal, match="refusing to hit 3 of 6 nodes"):
        drain_nodes(label_selector="type=kwok", count=3)
    assert fake.core.mutations == []
    assert undo.current().pending() == []
    out = drain_nodes(label_selector="type=kwok", count=2, timeout=5)
    assert len(out["cordoned"]) == 2


def test_node_share_cap_is_configurable(fake: FakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIDEON_CHAOS_MAX_NODE_SHARE", "0.1")
    with pytest.raises(SafetyRefusal, match="allows 0"):
        drain_nodes(name="node-a1")
    assert fake.core.mutations == []


def test_context_not_allow_listed_refuses_with_nothing_changed(
    fake: FakeKube, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERNETES_CONTEXT", "prod-eu")
    with pytest.raises(SafetyRefusal, match="'prod-eu' is not allow-listed"):
        drain_nodes(name="node-a1")
    with pytest.raises(SafetyRefusal):
        uncordon_nodes(name="node-a1")
    assert fake.core.mutations == []
    monkeypatch.setenv("AIDEON_CHAOS_ALLOWED_CONTEXTS", "staging, prod-eu")
    drain_nodes(name="node-a1", timeout=5)
    assert fake.core.nodes["node-a1"].spec.unschedulable is True


def test_drain_targets_nodes_running_the_workload(fake: FakeKube) -> None:
    _gateway(fake)
    out = drain_nodes(namespace=NS, pod_label_selector="app.kubernetes.io/name=api-gateway", count=1, timeout=5)
    assert out["cordoned"] in (["node-a1"], ["node-b1"])
    assert len(fake.core.evictions) == 1


def test_already_cordoned_node_is_not_uncordoned_by_rollback(fake: FakeKube) -> None:
    fake.core.nodes["node-c1"].spec.unschedulable = True
    drain_nodes(name="node-c1", timeout=5)
    assert uncordon_nodes()["uncordoned"] == []
    assert fake.core.nodes["node-c1"].spec.unschedulable is True


def test_uncordon_with_explicit_target(fake: FakeKube) -> None:
    fake.core.nodes["node-c1"].spec.unschedulable = True
    out = uncordon_nodes(name="node-c1")
    assert out["uncordoned"] == ["node-c1"]
    assert fake.core.nodes["node-c1"].spec.unschedulable is False
    json.dumps(out)


def test_pod_selector_limits_what_is_evicted(fake: FakeKube) -> None:
    _gateway(fake)
    fake.core.pods[("other", "web-1")] = pod("web-1", "other", "node-a1", {"app": "web"})
    out = drain_nodes(name="node-a1", timeout=5, pod_selector="app.kubernetes.io/name=api-gateway")
    assert fake.core.evictions == [f"{NS}/gw-1"]
    assert {"pod": "other/web-1", "reason": "not selected by pod_selector"} in out["nodes"][0]["skipped"]
