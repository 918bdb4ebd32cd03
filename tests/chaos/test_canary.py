"""A canary built from the stable Deployment or scaled, the route's weights, and `end_canary` undoing both."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from chaoslib.exceptions import ActivityFailed
from kubernetes.client import V1Deployment, V1DeploymentStatus, V1ManagedFieldsEntry

from aideon_resilience.chaos import rollback, undo
from aideon_resilience.chaos.actions import canary as canary_module
from aideon_resilience.chaos.actions import end_canary, route_back, route_to_canary, start_canary
from aideon_resilience.errors import SafetyRefusal
from tests.chaos.fakekube import FakeKube, pod

REPO = Path(__file__).resolve().parents[2]
GATEWAY = REPO / "manifests" / "components" / "backend" / "api-gateway"
NS = "aideon-backend"
VS_KEY = ("networking.istio.io", "v1", NS, "virtualservices", "api-gateway")
HOST = "api-gateway.aideon-backend.svc.cluster.local"


def _stable() -> V1Deployment:
    """The gateway's Deployment as the API returns it: with status, uid, resourceVersion, managedFields."""
    doc = yaml.safe_load((GATEWAY / "workload" / "deployment.yaml").read_text())
    doc["spec"]["replicas"] = 3
    dep = V1Deployment.from_dict(doc)
    assert dep is not None and dep.metadata is not None
    dep.metadata.uid, dep.metadata.resource_version, dep.metadata.generation = "uid-stable", "4711", 7
    dep.metadata.managed_fields = [V1ManagedFieldsEntry(manager="kubectl", operation="Apply")]
    dep.status = V1DeploymentStatus(replicas=3, ready_replicas=3, available_replicas=3, observed_generation=7)
    return dep


def _ready(kube: FakeKube) -> None:
    """The fake controller runs the canary's pods ready after each create or scale."""

    def on_change(dep: Any) -> None:
        want = int(dep.spec.replicas or 0)
        labels = dict(dep.spec.template.metadata.labels)
        for key in [k for k in kube.core.pods if k[1].startswith(dep.metadata.name + "-")]:
            del kube.core.pods[key]
        for i in range(want):
            p = pod(f"{dep.metadata.name}-{i}", NS, "node-a1", labels)
            p.status.conditions = [SimpleNamespace(type="Ready", status="True")]
            kube.core.pods[(NS, p.metadata.name)] = p
        dep.status.ready_replicas = dep.status.available_replicas = dep.status.replicas = want

    kube.apps.on_change = on_change


@pytest.fixture
def cluster(fake: FakeKube, monkeypatch: pytest.MonkeyPatch) -> FakeKube:
    fake.core.namespaces[NS] = {"chaos.aideon.io/allowed": "true"}
    fake.core.namespaces["aideon-infrastructure"] = {}
    fake.apps.deployments[(NS, "api-gateway")] = _stable()
    vs = yaml.safe_load((GATEWAY / "virtualservice.yaml").read_text())
    vs["metadata"]["resourceVersion"] = "100"
    fake.custom.objects[VS_KEY] = vs
    monkeypatch.setattr(canary_module, "_custom_objects", lambda api: fake.custom)
    return fake


def _route(kube: FakeKube) -> list[dict[str, Any]]:
    route: list[dict[str, Any]] = kube.custom.objects[VS_KEY]["spec"]["http"][0]["route"]
    return route


def _weights(kube: FakeKube) -> dict[str, int]:
    return {d["destination"]["subset"]: d["weight"] for d in _route(kube)}


# --- the canary Deployment -------------------------------------------------------------------


def test_a_canary_is_built_from_the_stable_deployment_and_deleted_by_end_canary(
    cluster: FakeKube, undo_dir: Path
) -> None:
    _ready(cluster)
    seen: list[list[str]] = []
    create = cluster.apps.create_namespaced_deployment

    def create_after_undo(namespace: str, body: dict[str, Any]) -> Any:
        seen.append([s.kind for s in undo.current().pending()])  # the undo step is on disk first
        return create(namespace, body)

    cluster.apps.create_namespaced_deployment = create_after_undo  # type: ignore[method-assign]
    out = start_canary(NS, "api-gateway", replicas=2, timeout=5)
    assert seen == [["canary_delete"]]
    assert out["canary"] == "api-gateway-v2" and out["created"] is True and out["replicas"] == 2
    assert out["ready_pods"] == ["api-gateway-v2-0", "api-gateway-v2-1"]
    json.dumps(out)

    [(kind, namespace, name, body)] = cluster.apps.mutations
    assert (kind, namespace, name) == ("create_deployment", NS, "api-gateway-v2")
    assert set(body["metadata"]) == {"name", "namespace", "labels", "annotations"}
    assert body["metadata"]["annotations"] == {"aideon.io/made-by": "chaos-canary"}
    assert body["metadata"]["labels"]["app.kubernetes.io/name"] == "api-gateway"
    assert "status" not in body
    assert body["spec"]["replicas"] == 2
    assert body["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "api-gateway", "version": "v2"}
    assert body["spec"]["template"]["metadata"]["labels"]["version"] == "v2"
    stable = cluster.apps.deployments[(NS, "api-gateway")]
    assert stable.spec.template.metadata.labels["version"] == "v1"  # the stable is left as it was
    for key in ("strategy", "revisionHistoryLimit"):
        assert body["spec"][key] == cluster_plain(stable)["spec"][key]
    assert body["spec"]["template"]["spec"] == cluster_plain(stable)["spec"]["template"]["spec"]
    text = json.dumps(body)
    assert "uid-stable" not in text and "4711" not in text and "managedFields" not in text

    out = end_canary()
    assert out["undone"] == [f"delete canary {NS}/api-gateway-v2"]
    assert (NS, "api-gateway-v2") not in cluster.apps.deployments
    assert undo.pending_steps(undo_dir) == []
    assert end_canary()["undone"] == []  # nothing left: a second call (the rollback) is a no-op


def cluster_plain(dep: V1Deployment) -> dict[str, Any]:
    return canary_module._plain(dep)


def test_an_existing_canary_is_scaled_and_scaled_back(cluster: FakeKube, undo_dir: Path) -> None:
    existing = copy.deepcopy(_stable())
    assert existing.metadata is not None and existing.spec is not None and existing.status is not None
    existing.metadata.name, existing.spec.replicas = "api-gateway-v2", 0
    existing.spec.template.metadata.labels["version"] = "v2"
    existing.spec.selector.match_labels["version"] = "v2"
    existing.status.ready_replicas = existing.status.available_replicas = 0
    existing.status.observed_generation = existing.metadata.generation
    cluster.apps.deployments[(NS, "api-gateway-v2")] = existing
    _ready(cluster)
    out = start_canary(NS, "api-gateway", replicas=2, timeout=5)
    assert out["created"] is False and out["previous_replicas"] == 0 and len(out["ready_pods"]) == 2
    assert cluster.apps.mutations == [("scale_deployment", NS, "api-gateway-v2", 2)]
    [step] = undo.current().pending()
    assert step.kind == "canary_scale" and step.params["replicas"] == 0
    end_canary()
    assert cluster.apps.mutations[-1] == ("scale_deployment", NS, "api-gateway-v2", 0)
    assert (NS, "api-gateway-v2") in cluster.apps.deployments  # not ours to delete
    assert undo.pending_steps(undo_dir) == []


def test_the_canary_not_ready_in_time_fails_naming_it_and_the_rollback_removes_it(
    cluster: FakeKube, undo_dir: Path
) -> None:
    def one_pending_pod(dep: Any) -> None:  # the fake controller never reports it ready
        p = pod("api-gateway-v2-x1", NS, None, dict(dep.spec.template.metadata.labels), phase="Pending")
        p.status.conditions = [
            SimpleNamespace(
                type="PodScheduled",
                status="False",
                reason="Unschedulable",
                message="0/6 nodes are available: 6 Insufficient cpu.",
            )
        ]
        cluster.core.pods[(NS, p.metadata.name)] = p

    cluster.apps.on_change = one_pending_pod
    with pytest.raises(ActivityFailed) as info:
        start_canary(NS, "api-gateway", replicas=2, timeout=0.05)
    msg = str(info.value)
    assert "api-gateway-v2: 0/2 ready after 0.05 s" in msg
    assert "pod api-gateway-v2-x1 Pending: 0/6 nodes are available: 6 Insufficient cpu." in msg
    assert (NS, "api-gateway-v2") in cluster.apps.deployments
    assert [s.kind for s in undo.pending_steps(undo_dir)] == ["canary_delete"]
    undo.reset()  # another process: `aideon-resilience rollback` replays the file alone
    result = rollback.replay(undo_dir)
    assert result.undone == [f"delete canary {NS}/api-gateway-v2"] and result.failed == []
    assert (NS, "api-gateway-v2") not in cluster.apps.deployments


def test_the_delete_undo_leaves_a_deployment_it_did_not_make(cluster: FakeKube, undo_dir: Path) -> None:
    cluster.apps.deployments[(NS, "api-gateway-v2")] = _stable()  # someone else's, no made-by annotation
    canary_module._undo_delete({"namespace": NS, "name": "api-gateway-v2"}, {})
    canary_module._undo_delete({"namespace": NS, "name": "gone"}, {})  # 404: nothing to do
    assert cluster.apps.mutations == []


def test_an_interrupted_start_removes_its_canary(cluster: FakeKube, undo_dir: Path) -> None:
    def interrupt(dep: Any) -> None:
        raise KeyboardInterrupt

    cluster.apps.on_change = interrupt
    with pytest.raises(KeyboardInterrupt):
        start_canary(NS, "api-gateway", replicas=1, timeout=5)
    assert (NS, "api-gateway-v2") not in cluster.apps.deployments
    assert undo.pending_steps(undo_dir) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"namespace": "", "deployment": "api-gateway"}, SafetyRefusal, "start_canary needs an explicit target"),
        ({"namespace": NS, "deployment": ""}, SafetyRefusal, "start_canary needs an explicit target"),
        (
            {"namespace": "aideon-infrastructure", "deployment": "api-gateway"},
            SafetyRefusal,
            "start_canary: namespace 'aideon-infrastructure' has not opted in",
        ),
        ({"namespace": NS, "deployment": "api-gateway", "replicas": 11}, SafetyRefusal, "at most 10"),
        ({"namespace": NS, "deployment": "api-gateway", "replicas": 0}, ActivityFailed, "replicas: must be"),
        ({"namespace": NS, "deployment": "api-gateway", "subset": "v1"}, ActivityFailed, "is already 'v1'"),
        ({"namespace": NS, "deployment": "missing"}, ActivityFailed, f"no Deployment {NS}/missing"),
    ],
)
def test_start_canary_refuses(
    kwargs: dict[str, Any], error: type[Exception], match: str, cluster: FakeKube, undo_dir: Path
) -> None:
    with pytest.raises(error, match=match):
        start_canary(**kwargs, timeout=1)
    assert cluster.apps.mutations == []
    assert undo.pending_steps(undo_dir) == []


def test_start_canary_refuses_a_context_that_is_not_allow_listed(
    cluster: FakeKube, undo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBERNETES_CONTEXT", "production-eu")
    with pytest.raises(SafetyRefusal, match="'production-eu' is not allow-listed"):
        start_canary(NS, "api-gateway", timeout=1)
    with pytest.raises(SafetyRefusal, match="'production-eu' is not allow-listed"):
        route_to_canary(NS, "api-gateway", "v1=90,v2=10")
    assert cluster.apps.mutations == [] and cluster.custom.mutations == []


# --- the route -------------------------------------------------------------------------------


def test_the_route_is_weighted_and_restored_exactly(cluster: FakeKube, undo_dir: Path) -> None:
    _route(cluster)[0]["headers"] = {"response": {"set": {"x-subset": "v1"}}}  # a destination's other field
    original = copy.deepcopy(_route(cluster))
    before = copy.deepcopy(cluster.custom.objects[VS_KEY])
    out = route_to_canary(NS, "api-gateway", "v1=90,v2=10")
    assert _weights(cluster) == {"v1": 90, "v2": 10}
    assert [d["destination"] for d in _route(cluster)] == [d["destination"] for d in original]
    assert _route(cluster)[0]["headers"] == original[0]["headers"]
    assert out["previous"] == original and out["weights"] == {"v1": 90, "v2": 10}
    json.dumps(out)
    [(_, _, _, _, body)] = cluster.custom.mutations
    assert body["metadata"] == {"resourceVersion": "100"}  # a concurrent change is refused
    http = cluster.custom.objects[VS_KEY]["spec"]["http"][0]
    assert http["timeout"] == "10s" and http["retries"]["attempts"] == 2  # the route's other fields kept

    end_canary()
    restored = cluster.custom.objects[VS_KEY]
    assert _route(cluster) == original
    assert restored["spec"] == before["spec"]
    assert undo.pending_steps(undo_dir) == []


def test_a_subset_is_added_and_one_not_named_removed(cluster: FakeKube, undo_dir: Path) -> None:
    original = copy.deepcopy(_route(cluster))
    route_to_canary(NS, "api-gateway", {"v2": 60, "v3": 40})
    assert _weights(cluster) == {"v2": 60, "v3": 40}
    v3 = _route(cluster)[1]["destination"]
    assert v3 == {"host": HOST, "subset": "v3", "port": {"number": 8080}}
    route_to_canary(NS, "api-gateway", "v1=100")
    assert _route(cluster) == [{**original[0], "weight": 100}]
    end_canary()  # newest first: back to v2/v3, then to the original
    assert _route(cluster) == original


def test_a_concurrent_change_is_refused_and_not_undone(cluster: FakeKube, undo_dir: Path) -> None:
    get = cluster.custom.get_namespaced_custom_object

    def read_then_changed(*args: Any) -> dict[str, Any]:
        obj = get(*args)
        cluster.custom.objects[VS_KEY]["metadata"]["resourceVersion"] = "101"  # someone else wrote it
        return obj

    cluster.custom.get_namespaced_custom_object = read_then_changed  # type: ignore[method-assign,assignment]
    with pytest.raises(ActivityFailed, match="changed while its route was set"):
        route_to_canary(NS, "api-gateway", "v1=90,v2=10")
    assert cluster.custom.mutations == [] and undo.pending_steps(undo_dir) == []


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ("v1=90,v2=20", r"weights: add up to 110; Istio needs 100"),
        ("v1=x", r"weights\.v1: not a whole number: 'x'"),
        ("", r"weights: at least one subset=weight"),
        ("v1=110,v2=-10", r"weights\.v2: must not be negative"),
        ("v1", r"weights: 'v1' is not subset=weight"),
        ("=100", r"weights: a weight without a subset name"),
        ("v1=50,v1=50", r"weights\.v1: given twice"),
        ({"v1": 90.5, "v2": 9.5}, r"weights\.v1: not a whole number"),
        ({}, r"weights: at least one subset=weight"),
    ],
)
def test_bad_weights_are_refused_and_nothing_is_patched(
    weights: Any, match: str, cluster: FakeKube, undo_dir: Path
) -> None:
    before = copy.deepcopy(cluster.custom.objects[VS_KEY])
    with pytest.raises(ActivityFailed, match=match):
        route_to_canary(NS, "api-gateway", weights)
    assert cluster.custom.mutations == [] and cluster.custom.objects[VS_KEY] == before
    assert undo.pending_steps(undo_dir) == []


def test_route_to_canary_refuses(cluster: FakeKube, undo_dir: Path) -> None:
    with pytest.raises(SafetyRefusal, match="route_to_canary needs an explicit target"):
        route_to_canary(NS, "", "v1=100")
    with pytest.raises(SafetyRefusal, match="route_to_canary: namespace 'aideon-infrastructure' has not opted in"):
        route_to_canary("aideon-infrastructure", "api-gateway", "v1=100")
    with pytest.raises(ActivityFailed, match=f"no VirtualService {NS}/other"):
        route_to_canary(NS, "other", "v1=100")
    assert cluster.custom.mutations == [] and undo.pending_steps(undo_dir) == []


# --- both, ended together --------------------------------------------------------------------


def test_end_canary_restores_the_route_before_removing_the_canary(cluster: FakeKube, undo_dir: Path) -> None:
    _ready(cluster)
    original = copy.deepcopy(_route(cluster))
    order: list[str] = []
    cluster.custom.patch_namespaced_custom_object = _spy(order, "route", cluster.custom.patch_namespaced_custom_object)  # type: ignore[method-assign]
    cluster.apps.delete_namespaced_deployment = _spy(order, "delete", cluster.apps.delete_namespaced_deployment)  # type: ignore[method-assign]
    start_canary(NS, "api-gateway", replicas=1, timeout=5)
    route_to_canary(NS, "api-gateway", "v1=90,v2=10")
    order.clear()
    out = end_canary()
    assert order == ["route", "delete"]
    assert out["undone"] == [
        f"restore the route of VirtualService {NS}/api-gateway",
        f"delete canary {NS}/api-gateway-v2",
    ]
    assert _route(cluster) == original and (NS, "api-gateway-v2") not in cluster.apps.deployments


def test_route_back_restores_only_the_route_and_leaves_the_canary_serving(
    cluster: FakeKube,
    undo_dir: Path,
) -> None:
    _ready(cluster)
    original = copy.deepcopy(_route(cluster))
    start_canary(NS, "api-gateway", replicas=2, timeout=5)
    route_to_canary(NS, "api-gateway", "v1=90,v2=10")
    out = route_back()
    assert out["undone"] == [f"restore the route of VirtualService {NS}/api-gateway"]
    assert _route(cluster) == original
    assert cluster.apps.deployments[(NS, "api-gateway-v2")].spec.replicas == 2
    assert [s.kind for s in undo.current().pending()] == ["canary_delete"]
    assert end_canary()["undone"] == [f"delete canary {NS}/api-gateway-v2"]
    assert undo.pending_steps(undo_dir) == []


def _spy(order: list[str], name: str, fn: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        order.append(name)
        return fn(*args, **kwargs)

    return call
