"""Pod kill bounded by a share of replicas; node loss and zone outage through the local cluster."""

from __future__ import annotations

import json
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from aideon_resilience.chaos import rollback, undo
from aideon_resilience.chaos.actions import kill_pods, lose_nodes, node_loss, recover_nodes, recover_zone, zone_outage
from aideon_resilience.errors import SafetyRefusal
from tests.chaos.fakekube import FakeKube, pod

NS = "aideon-backend"
APP = {"app.kubernetes.io/name": "api-gateway"}
SEL = "app.kubernetes.io/name=api-gateway"


@pytest.fixture
def gateway(fake: FakeKube) -> FakeKube:
    fake.core.namespaces[NS] = {"chaos.aideon.io/allowed": "true"}
    for i, node in enumerate(["node-a1", "node-b1", "node-c1"], start=1):
        fake.core.pods[(NS, f"gw-{i}")] = pod(f"gw-{i}", NS, node, APP)
    return fake


def test_kill_is_bounded_by_the_pod_share(gateway: FakeKube) -> None:
    with pytest.raises(SafetyRefusal, match="refusing to hit 2 of 3 pods"):
        kill_pods(NS, SEL, count=2)
    assert gateway.core.mutations == []
    out = kill_pods(NS, SEL, count=1, seed=1)
    assert len(out["killed"]) == 1 and out["selected"] == 3
    assert len([m for m in gateway.core.mutations if m[0] == "delete_pod"]) == 1
    json.dumps(out)


def test_kill_needs_selector_and_opted_in_namespace(gateway: FakeKube) -> None:
    with pytest.raises(SafetyRefusal, match="explicit target"):
        kill_pods(NS, "")
    gateway.core.namespaces[NS] = {}
    with pytest.raises(SafetyRefusal, match="has not opted in"):
        kill_pods(NS, SEL)
    assert gateway.core.mutations == []


class FakeLocalCluster:
    def __init__(self, fake: FakeKube) -> None:
        self.fake = fake
        self.calls: list[tuple[str, str]] = []

    def _ready(self, name: str, status: str) -> None:
        self.fake.core.nodes[name].status.conditions = [SimpleNamespace(type="Ready", status=status)]

    def make_node_unready(self, api: Any, name: str) -> dict[str, Any]:
        assert any(s.params["node"] == name for s in undo.current().pending("restore_node")), "undo first"
        self.calls.append(("unready", name))
        self._ready(name, "False")
        return {}

    def make_node_unreachable(self, api: Any, name: str) -> dict[str, Any]:
        self.calls.append(("unreachable", name))
        self._ready(name, "Unknown")
        return {}

    def restore_node(self, api: Any, name: str) -> dict[str, Any]:
        self.calls.append(("restore", name))
        self._ready(name, "True")
        return {}

    def nodes_by_zone(self, api: Any) -> dict[str, list[str]]:
        zones: dict[str, list[str]] = {}
        for n in self.fake.core.nodes.values():
            zones.setdefault(n.metadata.labels["topology.kubernetes.io/zone"], []).append(n.metadata.name)
        return {z: sorted(v) for z, v in zones.items()}


@pytest.fixture
def lc(gateway: FakeKube, monkeypatch: pytest.MonkeyPatch) -> FakeLocalCluster:
    fake_lc = FakeLocalCluster(gateway)
    monkeypatch.setattr(node_loss, "_localcluster", lambda: fake_lc)  # type: ignore[return-value]
    return fake_lc


def test_node_loss_records_undo_first_and_recovers(lc: FakeLocalCluster) -> None:
    out = lose_nodes(namespace=NS, pod_label_selector=SEL, count=1, wait_timeout=1)
    assert out["observed_not_ready"] is True and len(out["nodes"]) == 1
    lost = out["nodes"][0]
    assert lc.calls == [("unready", lost)]
    back = recover_nodes(wait_timeout=1)
    assert back["nodes"] == [lost] and back["observed_ready"] is True
    assert undo.current().pending() == []
    json.dumps(out), json.dumps(back)


def test_an_out_of_service_node_loss_taints_the_lost_node_once_down_and_the_rollback_clears_it(
    lc: FakeLocalCluster, gateway: FakeKube
) -> None:
    gateway.core.nodes["node-a1"].spec.taints = [{"key": "example.com/keep", "effect": "NoSchedule"}]
    out = lose_nodes(name="node-a1", wait_timeout=1, out_of_service="true")  # as an experiment passes it
    assert out["out_of_service"] is True
    taints = gateway.core.nodes["node-a1"].spec.taints
    assert {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"} in taints
    assert {"key": "example.com/keep", "effect": "NoSchedule"} in taints
    recover_nodes(wait_timeout=1)
    assert gateway.core.nodes["node-a1"].spec.taints == [{"key": "example.com/keep", "effect": "NoSchedule"}]
    # a plain node loss leaves the taints alone
    lose_nodes(name="node-a1", wait_timeout=1)
    assert len(gateway.core.nodes["node-a1"].spec.taints) == 1


def test_zone_outage_takes_one_zone_and_the_rollback_brings_it_back(lc: FakeLocalCluster) -> None:
    out = zone_outage("zone-b", wait_timeout=1)
    assert out["nodes"] == ["node-b1", "node-b2"]
    assert out["ready"] == {"node-b1": "False", "node-b2": "False"}
    back = recover_zone(wait_timeout=1)
    assert sorted(back["nodes"]) == ["node-b1", "node-b2"]
    assert ("restore", "node-b2") in lc.calls


def test_zone_outage_respects_the_node_share(lc: FakeLocalCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIDEON_CHAOS_MAX_NODE_SHARE", "0.2")
    with pytest.raises(SafetyRefusal, match="refusing to hit 2 of 6 nodes"):
        zone_outage("zone-a")
    assert lc.calls == []
    with pytest.raises(Exception, match="no node in zone 'zone-z'"):
        zone_outage("zone-z")


def test_undo_replay_restores_lost_nodes(lc: FakeLocalCluster) -> None:
    lose_nodes(name="node-c1", mode="unreachable", wait_timeout=0)
    result = rollback.replay(undo.current().directory)
    assert result.undone == ["restore node node-c1"]
    assert lc.calls == [("unreachable", "node-c1"), ("restore", "node-c1")]


def test_missing_local_cluster_module_fails_clearly(gateway: FakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    def none() -> ModuleType | None:
        return None

    monkeypatch.setattr(node_loss, "_localcluster", none)
    with pytest.raises(Exception, match=r"node loss needs aideon_resilience\.adapters\.localcluster\.nodes"):
        lose_nodes(name="node-a1")
