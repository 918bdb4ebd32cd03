"""Every mutating action checks its bounds itself: without the safety control nothing widens.

An experiment may lack the safety control, misspell its module (Chaos Toolkit only warns and runs
the experiment without it), or an action may be called from Python. Each mutating action then
still refuses an allow-listed-context miss and a namespace that has not opted in, before it
changes anything: no API mutation, no undo step, no request to a stand-in, no Locust process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from chaoslib.experiment import run_experiment

from aideon_resilience.chaos import undo
from aideon_resilience.chaos.actions import (
    drain_nodes,
    fail_backend,
    kill_pods,
    lose_nodes,
    start_load,
    start_surge,
    zone_outage,
)
from aideon_resilience.chaos.actions import node_loss as node_loss_module
from aideon_resilience.errors import SafetyRefusal
from tests.chaos.fakekube import FakeKube, pod
from tests.chaos.loopback import serve
from tests.chaos.test_pods_and_nodes import FakeLocalCluster

ALLOWED = "aideon-backend"
CLOSED = "aideon-infrastructure"  # exists, never opted in: it observes the runs
APP = {"app.kubernetes.io/name": "api-gateway"}
SEL = "app.kubernetes.io/name=api-gateway"
ROUTES = {("POST", "/admin/fail"): (200, "{}"), ("POST", "/admin/recover"): (200, "{}")}


@pytest.fixture
def cluster(fake: FakeKube, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeKube:
    """Gateway pods in an opted-in namespace and monitoring pods in one that is not, on the same nodes."""
    fake.core.namespaces[ALLOWED] = {"chaos.aideon.io/allowed": "true"}
    fake.core.namespaces[CLOSED] = {}
    for i, node in enumerate(["node-a1", "node-b1", "node-c1"], start=1):
        fake.core.pods[(ALLOWED, f"gw-{i}")] = pod(f"gw-{i}", ALLOWED, node, APP)
        fake.core.pods[(CLOSED, f"mon-{i}")] = pod(f"mon-{i}", CLOSED, node, {"app": "monitoring"})
    node_control = FakeLocalCluster(fake)
    fake.node_control = node_control  # type: ignore[attr-defined]
    monkeypatch.setattr(node_loss_module, "_localcluster", lambda: node_control)
    locustfile = tmp_path / "idle.py"
    locustfile.write_text("")
    monkeypatch.setenv("AIDEON_LOCUSTFILE", str(locustfile))
    return fake


# each mutating action, called on a namespace: (name, call(namespace, loopback URL))
Call = Callable[[str, str], Any]
ACTIONS: list[tuple[str, Call]] = [
    ("kill_pods", lambda ns, url: kill_pods(ns, SEL, count=1)),
    ("drain_nodes", lambda ns, url: drain_nodes(namespace=ns, pod_label_selector=SEL, count=1, timeout=5)),
    ("lose_nodes", lambda ns, url: lose_nodes(namespace=ns, pod_label_selector=SEL, count=1, wait_timeout=0)),
    ("zone_outage", lambda ns, url: zone_outage("zone-a", namespace=ns, wait_timeout=0)),
    ("fail_backend", lambda ns, url: fail_backend(url, namespace=ns)),
    ("start_load", lambda ns, url: start_load(url, users=1, duration=5, namespace=ns)),
    ("start_surge", lambda ns, url: start_surge(url, users=1, duration=5, namespace=ns)),
]


def _nothing_changed(kube: FakeKube, undo_dir: Path, seen: list[tuple[str, str]]) -> None:
    assert kube.core.mutations == []
    assert kube.node_control.calls == []  # type: ignore[attr-defined]  (no node lost)
    assert undo.pending_steps(undo_dir) == []
    assert seen == []  # no stand-in was switched; no Locust process was started (no undo step above)


@pytest.mark.parametrize("action", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_an_action_refuses_a_namespace_that_has_not_opted_in(
    action: tuple[str, Call], cluster: FakeKube, undo_dir: Path
) -> None:
    name, call = action
    with serve(ROUTES) as (url, seen):
        with pytest.raises(SafetyRefusal, match=f"{name}: namespace '{CLOSED}' has not opted in"):
            call(CLOSED, url)
        _nothing_changed(cluster, undo_dir, seen)
        with pytest.raises(SafetyRefusal, match=f"{name}: namespace 'aideon-nowhere' does not exist"):
            call("aideon-nowhere", url)
        _nothing_changed(cluster, undo_dir, seen)


@pytest.mark.parametrize("action", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_an_action_refuses_a_context_that_is_not_allow_listed(
    action: tuple[str, Call], cluster: FakeKube, undo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _name, call = action
    monkeypatch.setenv("KUBERNETES_CONTEXT", "production-eu")
    with serve(ROUTES) as (url, seen):
        with pytest.raises(SafetyRefusal, match="'production-eu' is not allow-listed"):
            call(ALLOWED, url)
        _nothing_changed(cluster, undo_dir, seen)


def test_the_same_actions_act_inside_their_bounds(cluster: FakeKube, undo_dir: Path) -> None:
    """The refusals above are the bounds, not a broken action: on an opted-in namespace they act."""
    assert kill_pods(ALLOWED, SEL, count=1, seed=1)["killed"]
    with serve(ROUTES) as (url, seen):
        fail_backend(url, namespace=ALLOWED)
        assert seen == [("POST", "/admin/fail")]
    assert [m[0] for m in cluster.core.mutations] == ["delete_pod"]


def test_a_drain_evicts_only_from_namespaces_that_opted_in(cluster: FakeKube, undo_dir: Path) -> None:
    out = drain_nodes(name="node-a1", timeout=5)  # targeted by name: no namespace argument at all
    assert cluster.core.evictions == [f"{ALLOWED}/gw-1"]
    skipped = {s["pod"]: s["reason"] for s in out["nodes"][0]["skipped"]}
    assert skipped == {f"{CLOSED}/mon-1": f"namespace {CLOSED} has not opted in to chaos"}
    assert (CLOSED, "mon-1") in cluster.core.pods


def _experiment(controls: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "1.0.0", "title": "drain the nodes of monitoring", "description": "outside its bounds",
        "controls": controls,
        "method": [{
            "type": "action", "name": "drain",
            "provider": {"type": "python", "module": "aideon_resilience.chaos.actions", "func": "drain_nodes",
                         "arguments": {"namespace": CLOSED, "pod_label_selector": "app=monitoring", "count": 1,
                                       "timeout": 5}},
        }],
    }  # fmt: skip


SAFETY = "aideon_resilience.chaos.controls.safety"


@pytest.mark.parametrize(
    "controls",
    [[], [{"name": "aideon-safety", "provider": {"type": "python", "module": SAFETY + "x",
                                                 "arguments": {"namespaces": ALLOWED}}}]],
    ids=["without-the-control", "control-module-misspelt"],
)
def test_an_experiment_without_its_safety_control_is_refused_by_the_action(
    controls: list[dict[str, Any]], cluster: FakeKube, undo_dir: Path
) -> None:
    journal = run_experiment(_experiment(controls))  # Chaos Toolkit runs it: the control is missing or unloadable
    run = journal["run"][0]
    assert run["status"] == "failed"
    assert f"drain_nodes: namespace '{CLOSED}' has not opted in" in run["exception"][-1]
    assert cluster.core.mutations == []  # no node cordoned, no pod evicted
    assert undo.pending_steps(undo_dir) == []
