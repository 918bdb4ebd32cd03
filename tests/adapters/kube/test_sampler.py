"""The watch-based sampler records what the control plane did, as timeline records the core reads."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes import client

from aideon_resilience.adapters.kube.sampler import Sampler, _stateful_pod, max_unavailable
from aideon_resilience.adapters.localcluster import LocalCluster
from aideon_resilience.core.evidence.timeline import load_timeline
from aideon_resilience.core.evidence.timeline_writer import TimelineWriter
from tests.adapters.localcluster.kubehelpers import deployment, namespace, running, wait_for
from tests.conftest import KubeCluster


def _pod(name: str, node: str | None, phase: str, app: str = "web") -> Any:
    return SimpleNamespace(
        metadata=SimpleNamespace(name=name, namespace="ns", labels={"app": app}, owner_references=[],
                                 deletion_timestamp=None, resource_version="1"),
        spec=SimpleNamespace(node_name=node),
        status=SimpleNamespace(phase=phase),
    )


def test_pod_events_become_placement_and_pending_records_only_when_they_change(tmp_path: Path) -> None:
    writer = TimelineWriter(tmp_path / "timeline.jsonl")
    s = Sampler(client.ApiClient(), writer, clock=lambda: 100.0)
    s._on_pod("ADDED", _pod("a", None, "Pending"))
    s._on_pod("MODIFIED", _pod("a", "n1", "Running"))
    s._on_pod("MODIFIED", _pod("a", "n1", "Running"))  # same state: nothing new
    s._on_pod("ADDED", _pod("b", "n1", "Running"))
    s._on_pod("DELETED", _pod("a", "n1", "Running"))
    writer.close()
    tl = load_timeline(tmp_path / "timeline.jsonl")
    assert [(p.node, p.pods) for p in tl.placements] == [("n1", 1), ("n1", 2), ("n1", 1)]
    assert [p.pods for p in tl.pending] == [1, 0]


class BlindThenSeeing:
    """A list function whose API server refuses connections for `down` calls, then answers once
    (a list with no items, then a watch that ends at its timeout) and stops the sampler."""

    def __init__(self, sampler: Sampler, down: int) -> None:
        self.sampler, self.down, self.calls = sampler, down, 0

    def __call__(self, **kwargs: Any) -> Any:
        self.calls += 1
        self.sampler.clock = lambda: 1000.0 + self.calls  # each call one second later
        if self.calls <= self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        if kwargs.get("watch"):
            self.sampler._stop.set()
            return SimpleNamespace(stream=lambda **_: iter(()), close=lambda: None, release_conn=lambda: None)
        return SimpleNamespace(items=[], metadata=SimpleNamespace(resource_version="7"))


def test_a_watch_that_goes_blind_and_resumes_writes_one_gap_naming_the_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = TimelineWriter(tmp_path / "timeline.jsonl")
    s = Sampler(client.ApiClient(), writer)
    monkeypatch.setattr(s._stop, "wait", lambda _=None: False)  # no 1 s back-off in the test
    s._follow("pods", BlindThenSeeing(s, down=3), s._on_pod)
    s.stop()
    writer.close()
    gaps = load_timeline(tmp_path / "timeline.jsonl").gaps
    assert [(g.stream, g.start, g.t) for g in gaps] == [("pods", 1001.0, 1004.0)]
    assert "ConnectionRefusedError" in gaps[0].reason


def test_a_stream_still_blind_at_stop_gets_a_gap_to_the_end(tmp_path: Path) -> None:
    writer = TimelineWriter(tmp_path / "timeline.jsonl")
    s = Sampler(client.ApiClient(), writer, clock=lambda: 50.0)
    s._blinded("nodes", "API error 503")
    s.clock = lambda: 80.0
    s.stop()
    writer.close()
    gaps = load_timeline(tmp_path / "timeline.jsonl").gaps
    assert [(g.stream, g.start, g.t, g.reason) for g in gaps] == [("nodes", 50.0, 80.0, "API error 503")]


@pytest.mark.cluster
def test_sampler_follows_replicas_hpa_pdb_placement_and_nodes(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    api = LocalCluster().api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    autoscaling, policy = client.AutoscalingV2Api(api), client.PolicyV1Api(api)
    path = tmp_path / "timeline.jsonl"
    with namespace(core, "t-sampler") as ns:
        writer = TimelineWriter(path)
        sampler = Sampler(api, writer, namespaces=[ns])
        sampler.start()
        try:
            apps.create_namespaced_deployment(ns, deployment("web", 2))
            policy.create_namespaced_pod_disruption_budget(
                ns, {"metadata": {"name": "web"}, "spec": {"maxUnavailable": 1,
                                                          "selector": {"matchLabels": {"app": "web"}}}})
            autoscaling.create_namespaced_horizontal_pod_autoscaler(ns, {
                "metadata": {"name": "web"},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                         "minReplicas": 2, "maxReplicas": 4,
                         "metrics": [{"type": "Resource", "resource": {
                             "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
            })
            wait_for("2 running pods", lambda: len(running(core, ns, "web")) == 2)
            victim = running(core, ns, "web")[0]
            core.delete_namespaced_pod(victim.metadata.name, ns, grace_period_seconds=0)
            wait_for("a replacement", lambda: len(running(core, ns, "web")) == 2
                     and victim.metadata.name not in {p.metadata.name for p in running(core, ns, "web")})
            time.sleep(3)
        finally:
            sampler.stop()
            writer.close()
    tl = load_timeline(path)
    wl = [w for w in tl.workloads if w.name == "web"]
    assert wl and wl[-1].replicas == 2 and wl[-1].ready == 2
    assert wl[-1].anti_affinity == "none"
    assert any(w.hpa_min == 2 and w.hpa_max == 4 for w in wl)
    pdb = [p for p in tl.pdbs if p.name == "web"]
    assert pdb and pdb[-1].desired_healthy == 1 and pdb[-1].current_healthy == 2
    placed = [p for p in tl.placements if p.workload == "web"]
    assert placed and all(p.zone and p.zone.startswith("zone-") for p in placed)
    # the kill shows as a node going from one pod to fewer before the replacement arrives
    assert any(p.node == victim.spec.node_name for p in placed)
    assert {n.name for n in tl.nodes} >= {"node-a1", "node-b1", "node-c1"}
    assert not sampler.errors, sampler.errors


def test_hpas_settle_only_when_the_named_ones_are_back_at_their_minimum(tmp_path: Path) -> None:
    writer = TimelineWriter(tmp_path / "timeline.jsonl")
    s = Sampler(client.ApiClient(), writer)
    s._hpas[("b", "gw")] = {"hpa_min": 3, "hpa_max": 5, "hpa_current": 5, "hpa_desired": 3}
    s._hpas[("b", "auth")] = {"hpa_min": 2, "hpa_max": 3, "hpa_current": 3, "hpa_desired": 3}
    assert not s.hpas_settled(["b/gw"])
    s._hpas[("b", "gw")]["hpa_current"] = 3
    assert s.hpas_settled(["b/gw"])
    assert not s.hpas_settled()  # auth is still above its minimum
    writer.close()


def test_an_hpa_without_metrics_is_recorded_with_its_reason(tmp_path: Path) -> None:
    from aideon_resilience.adapters.kube.sampler import _scaling_inactive

    def hpa(status: str, reason: str) -> Any:
        cond = [SimpleNamespace(type="AbleToScale", status="True", reason="ReadyForNewScale"),
                SimpleNamespace(type="ScalingActive", status=status, reason=reason)]
        return SimpleNamespace(status=SimpleNamespace(conditions=cond))

    assert _scaling_inactive(hpa("False", "FailedGetResourceMetric")) == "FailedGetResourceMetric"
    assert _scaling_inactive(hpa("True", "ValidMetricFound")) is None
    assert _scaling_inactive(SimpleNamespace(status=None)) is None


def _strategy(type_: str = "RollingUpdate", surge: object = None, unavailable: object = None) -> Any:
    return SimpleNamespace(type=type_, rolling_update=SimpleNamespace(max_surge=surge, max_unavailable=unavailable))


@pytest.mark.parametrize(
    ("replicas", "strategy", "expected"),
    [
        (3, _strategy(surge=1, unavailable=0), 0),       # the gateway's own strategy
        (3, _strategy(), 0),                             # 25%/25%: 0.75 rounds down to 0
        (8, _strategy(), 2),
        (10, _strategy(unavailable="33%"), 3),
        (3, _strategy(surge=0, unavailable=0), 1),       # both zero: one may go (ResolveFenceposts)
        (3, _strategy(surge="0%", unavailable="10%"), 1),
        (3, _strategy(unavailable=5), 3),                # never more than the replicas
        (3, _strategy("Recreate"), 3),
        (4, None, 1),                                    # no strategy: the API's defaults
    ],
)
def test_max_unavailable_is_resolved_as_the_deployment_controller_does(
    replicas: int, strategy: Any, expected: int
) -> None:
    assert max_unavailable(replicas, strategy) == expected


def _sts_pod(owner: str, ready: str = "True", deleting: bool = False) -> Any:
    claim = SimpleNamespace(persistent_volume_claim=SimpleNamespace(claim_name="data-db-0"))
    return SimpleNamespace(
        metadata=SimpleNamespace(namespace="ns", name="db-0", uid="u1", owner_references=[SimpleNamespace(kind=owner)],
                                 deletion_timestamp="now" if deleting else None),
        spec=SimpleNamespace(node_name="n1", volumes=[SimpleNamespace(persistent_volume_claim=None), claim]),
        status=SimpleNamespace(phase="Running", conditions=[SimpleNamespace(type="Ready", status=ready)]),
    )


def test_a_statefulset_pod_is_sampled_with_its_identity_node_readiness_and_claims() -> None:
    s = _stateful_pod("MODIFIED", _sts_pod("StatefulSet"), "db")
    assert s is not None
    assert (s.workload, s.pod, s.uid, s.node, s.phase, s.ready, s.claims) == (
        "db", "db-0", "u1", "n1", "Running", True, ["data-db-0"])
    gone = _stateful_pod("DELETED", _sts_pod("StatefulSet"), "db")
    assert gone is not None and (gone.phase, gone.ready) == ("Deleted", False)
    leaving = _stateful_pod("MODIFIED", _sts_pod("StatefulSet", ready="False", deleting=True), "db")
    assert leaving is not None and (leaving.phase, leaving.ready) == ("Terminating", False)
    assert _stateful_pod("MODIFIED", _sts_pod("ReplicaSet"), "web") is None


def test_a_statefulset_pods_claims_are_sampled_with_the_volumes_they_are_bound_to() -> None:
    asked: list[tuple[str, str]] = []

    def volume_of(ns: str, claim: str) -> str | None:
        asked.append((ns, claim))
        return "pv-7"

    s = _stateful_pod("MODIFIED", _sts_pod("StatefulSet"), "db", volume_of)
    assert s is not None and s.volumes == {"data-db-0": "pv-7"} and asked == [("ns", "data-db-0")]
    unbound = _stateful_pod("MODIFIED", _sts_pod("StatefulSet"), "db", lambda ns, claim: None)
    assert unbound is not None and unbound.volumes == {} and unbound.claims == ["data-db-0"]
