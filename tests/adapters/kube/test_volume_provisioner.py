"""The local cluster's volume provisioner: the PersistentVolume it makes for a claim (unit), and on
the real control plane a claim that waits for it, binds through it, keeps its volume when its pod
is replaced, and whose volume goes with it (cluster)."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes import client

from aideon_resilience.adapters.kube.client import api_client_for
from aideon_resilience.adapters.kube.volume_provisioner import (
    PROVISIONED_BY,
    PROVISIONER,
    BackgroundProvisioner,
    LocalVolumeProvisioner,
    volume_for,
)
from aideon_resilience.core.selectors import ZONE_LABEL
from tests.adapters.kube.test_volumes import _statefulset
from tests.adapters.localcluster.kubehelpers import namespace, wait_for
from tests.conftest import KubeCluster


def _claim(**spec: Any) -> Any:
    md = SimpleNamespace(uid="u-1", name="data-db-0", namespace="ns", resource_version="7")
    fields = {"resources": SimpleNamespace(requests={"storage": "10Gi"}), "access_modes": ["ReadWriteOnce"],
              "storage_class_name": "fast", "volume_mode": None, **spec}
    return SimpleNamespace(metadata=md, spec=SimpleNamespace(**fields))


def test_the_volume_is_pre_bound_to_its_claim_and_pinned_to_the_zone_of_the_selected_node() -> None:
    pv = volume_for(_claim(), "Delete", "kwok-node-2", "zone-b")
    assert pv["metadata"]["name"] == "pvc-u-1"
    assert pv["metadata"]["annotations"] == {PROVISIONED_BY: PROVISIONER}
    spec = pv["spec"]
    assert spec["claimRef"] == {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": "ns",
                                "name": "data-db-0", "uid": "u-1", "resourceVersion": "7"}
    assert (spec["capacity"], spec["accessModes"], spec["storageClassName"]) == (
        {"storage": "10Gi"}, ["ReadWriteOnce"], "fast")
    assert spec["persistentVolumeReclaimPolicy"] == "Delete" and spec["volumeMode"] == "Filesystem"
    assert spec["nodeAffinity"]["required"]["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": ZONE_LABEL, "operator": "In", "values": ["zone-b"]}]}]
    # a node without a zone: the volume stays on that node
    (term,) = volume_for(_claim(), "Retain", "n1", None)["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert term["matchExpressions"] == [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]


class _FakeApi:
    """The three lists and two calls `reconcile` makes; created volumes are recorded."""

    def __init__(self, classes: dict[str, str], claims: list[Any]) -> None:
        self.classes = classes
        self.claims = claims
        self.created: list[dict[str, Any]] = []

    def list_storage_class(self, **_: Any) -> Any:
        return SimpleNamespace(items=[SimpleNamespace(metadata=SimpleNamespace(name=n), provisioner=p,
                                                      reclaim_policy="Delete") for n, p in self.classes.items()])

    def list_persistent_volume(self, **_: Any) -> Any:
        return SimpleNamespace(items=[])

    def list_persistent_volume_claim_for_all_namespaces(self, **_: Any) -> Any:
        return SimpleNamespace(items=self.claims)

    def read_node(self, name: str, **_: Any) -> Any:
        return SimpleNamespace(metadata=SimpleNamespace(labels={ZONE_LABEL: f"zone-of-{name}"}))

    def create_persistent_volume(self, body: dict[str, Any], **_: Any) -> None:
        self.created.append(body)


def _waiting_claim(uid: str, storage_class: str) -> Any:
    claim = _claim(storage_class_name=storage_class, volume_name=None)
    claim.metadata = SimpleNamespace(uid=uid, name=f"data-{uid}", namespace="ns", resource_version="1",
                                     annotations={"volume.kubernetes.io/selected-node": "n1"},
                                     deletion_timestamp=None)
    return claim


def test_it_serves_only_the_provisioner_names_it_is_given_and_signs_the_volume_with_the_class_s() -> None:
    """A rehearsal runs it for the cloud's CSI driver: claims of `ebs.csi.aws.com` classes get a
    volume signed by that name, claims of other classes are left to their own provisioner."""
    api = _FakeApi({"fast": "ebs.csi.aws.com", "other": "example.com/other"},
                   [_waiting_claim("a", "fast"), _waiting_claim("b", "other")])
    done = LocalVolumeProvisioner(api, api, serves={"ebs.csi.aws.com"}).reconcile()  # type: ignore[arg-type]
    assert done == ["created pvc-a"]
    (pv,) = api.created
    assert pv["metadata"]["annotations"] == {PROVISIONED_BY: "ebs.csi.aws.com"}
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [
        "zone-of-n1"]
    # by default only the local cluster's own class is served
    assert LocalVolumeProvisioner(api, api).reconcile() == []  # type: ignore[arg-type]


def test_the_background_provisioner_reconciles_until_stopped_and_survives_an_api_error() -> None:
    calls: list[float] = []

    class Flaky:
        def reconcile(self) -> list[str]:
            calls.append(time.monotonic())
            if len(calls) == 1:
                raise ConnectionError("the API server away for a moment")
            return []

    bg = BackgroundProvisioner(Flaky()).start()  # type: ignore[arg-type]
    wait_for("a second pass after the error", lambda: len(calls) >= 2, timeout=10, interval=0.1)
    bg.stop()
    after = len(calls)
    time.sleep(1.5)
    assert len(calls) == after


@pytest.mark.cluster
def test_a_claim_waits_for_the_provisioner_binds_through_it_and_its_volume_goes_with_it(
    kube_cluster: KubeCluster,
) -> None:
    api = api_client_for(kube_cluster.kubeconfig, kube_cluster.context)
    core, apps, storage = client.CoreV1Api(api), client.AppsV1Api(api), client.StorageV1Api(api)
    provisioner = LocalVolumeProvisioner(core, storage)
    sc = f"t-local-{uuid.uuid4().hex[:6]}"
    storage.create_storage_class({"metadata": {"name": sc}, "provisioner": PROVISIONER, "reclaimPolicy": "Delete",
                                  "volumeBindingMode": "WaitForFirstConsumer"})

    def provisioned(check: Any) -> Any:
        provisioner.reconcile()
        return check()

    try:
        with namespace(core, "t-provisioner") as ns:
            apps.create_namespaced_stateful_set(ns, _statefulset(sc))
            def node_selected() -> Any:
                try:
                    c = core.read_namespaced_persistent_volume_claim("data-db-0", ns)
                except client.ApiException as exc:  # the StatefulSet controller has not made it yet
                    assert exc.status == 404
                    return None
                return "volume.kubernetes.io/selected-node" in (c.metadata.annotations or {}) and c

            claim = wait_for("the scheduler to pick a node for the claim", node_selected, timeout=60)
            time.sleep(2)
            assert core.read_namespaced_persistent_volume_claim("data-db-0", ns).status.phase == "Pending"
            assert core.read_namespaced_pod("db-0", ns).spec.node_name is None  # no volume, no binding

            wait_for("the claim to bind to the volume made for it", lambda: provisioned(
                lambda: core.read_namespaced_persistent_volume_claim("data-db-0", ns).status.phase == "Bound"),
                timeout=90, interval=0.5)
            pod = wait_for("the pod to run", lambda: (p := core.read_namespaced_pod("db-0", ns)).status.phase
                           == "Running" and p, timeout=90)
            volume_name = core.read_namespaced_persistent_volume_claim("data-db-0", ns).spec.volume_name
            assert volume_name == f"pvc-{claim.metadata.uid}"
            pv = core.read_persistent_volume(volume_name)
            assert pv.metadata.annotations[PROVISIONED_BY] == PROVISIONER
            zone = core.read_node(pod.spec.node_name).metadata.labels[ZONE_LABEL]
            assert pv.spec.node_affinity.required.node_selector_terms[0].match_expressions[0].values == [zone]

            # the pod replaced: same claim, same volume, a node of the same zone
            core.delete_namespaced_pod("db-0", ns, grace_period_seconds=0)
            def replaced() -> Any:
                try:
                    p = core.read_namespaced_pod("db-0", ns)
                except client.ApiException as exc:  # between the old pod and its replacement
                    assert exc.status == 404
                    return None
                return p.metadata.uid != pod.metadata.uid and p.status.phase == "Running" and p

            again = wait_for("the replacement pod to run", replaced, timeout=120)
            assert core.read_namespaced_persistent_volume_claim("data-db-0", ns).spec.volume_name == volume_name
            assert core.read_node(again.spec.node_name).metadata.labels[ZONE_LABEL] == zone

            # the claim deleted: its volume is released, then deleted (reclaimPolicy Delete)
            apps.delete_namespaced_stateful_set("db", ns)
            core.delete_namespaced_persistent_volume_claim("data-db-0", ns)

            def volume_gone() -> bool:
                try:
                    core.read_persistent_volume(volume_name)
                except client.ApiException as exc:
                    return exc.status == 404
                return False

            wait_for("the released volume to be deleted", lambda: provisioned(volume_gone), timeout=120,
                     interval=0.5)
    finally:
        storage.delete_storage_class(sc)
