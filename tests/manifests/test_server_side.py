"""Every overlay is accepted by a real API server (Pod Security enforced), and `local` becomes ready."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes import client

from aideon_resilience.adapters.dataplane import dataplane_state, start_dataplane
from aideon_resilience.adapters.kube.apply import apply_objects, wait_ready
from aideon_resilience.adapters.kustomize import build
from aideon_resilience.adapters.localcluster import LocalCluster
from aideon_resilience.errors import InputFileError
from tests.conftest import REPO, KubeCluster

pytestmark = pytest.mark.cluster
MANIFESTS = REPO / "manifests"


@pytest.fixture(scope="module")
def platform_ready(kube_cluster: KubeCluster) -> KubeCluster:
    """CRDs installed and the platform's namespaces present (what dry runs of namespaced objects need)."""
    apply_objects(build(MANIFESTS / "crds"), kube_cluster.kubeconfig)
    namespaces = [o for o in build(MANIFESTS / "environments" / "local") if o["kind"] == "Namespace"]
    apply_objects(namespaces, kube_cluster.kubeconfig)
    return kube_cluster


def _isolated(objects: list[dict[str, Any]], suffix: str) -> list[dict[str, Any]]:
    """The objects with the platform's namespaces and storage classes renamed: a dry run then creates
    every object, whatever another test (or the gate) left deployed under the real names. Storage
    classes are cluster-scoped and their provisioner is immutable, so the local overlay's `fast`
    would otherwise refuse a cloud overlay's `fast`."""
    renamed = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    classes = {o["metadata"]["name"] for o in objects if o["kind"] == "StorageClass"}
    out = copy.deepcopy(objects)
    for o in out:
        md = o["metadata"]
        if o["kind"] in ("Namespace", "StorageClass"):
            md["name"] += suffix
        elif md.get("namespace") in renamed:
            md["namespace"] += suffix
        for claim in _claim_specs(o):
            if claim.get("storageClassName") in classes:
                claim["storageClassName"] += suffix
    return out


def _claim_specs(o: dict[str, Any]) -> list[dict[str, Any]]:
    """The specs that name a storage class: a claim's or volume's own, a StatefulSet's templates'."""
    spec = o.get("spec") or {}
    if o["kind"] in ("PersistentVolumeClaim", "PersistentVolume"):
        return [spec]
    return [t.get("spec") or {} for t in spec.get("volumeClaimTemplates") or []]


@pytest.mark.parametrize("env", ["development", "staging", "production", "local"])
def test_overlay_is_accepted_server_side(platform_ready: KubeCluster, env: str) -> None:
    objects = _isolated(build(MANIFESTS / "environments" / env), f"-dry-{env[:4]}")
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    apply_objects(namespaces, platform_ready.kubeconfig)  # for real: namespaced dry runs need them
    core = LocalCluster().core()
    try:
        lines = apply_objects(objects, platform_ready.kubeconfig, dry_run=True, source=f"environments/{env}")
    finally:
        for ns in namespaces:
            core.delete_namespace(ns["metadata"]["name"], grace_period_seconds=0)
    assert len(lines) == len(objects)
    assert all("serverside-applied (server dry run)" in ln for ln in lines), lines[:3]


def test_namespaces_enforce_pod_security_restricted(platform_ready: KubeCluster) -> None:
    core = LocalCluster().core()
    for o in build(MANIFESTS / "environments" / "local"):
        if o["kind"] == "Namespace" and o["metadata"]["name"].startswith("aideon-"):
            labels = core.read_namespace(o["metadata"]["name"]).metadata.labels
            assert labels.get("pod-security.kubernetes.io/enforce") == "restricted", o["metadata"]["name"]


def test_a_contradiction_the_server_refuses_is_an_input_error(platform_ready: KubeCluster) -> None:
    bad = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
                 "minReplicas": 5, "maxReplicas": 2},
    }
    with pytest.raises(InputFileError, match=r"^bad\.yaml: the API server refused the objects: .*maxReplicas"):
        apply_objects([bad], platform_ready.kubeconfig, dry_run=True, source="bad.yaml")


def test_local_overlay_applies_for_real_and_becomes_ready(platform_ready: KubeCluster) -> None:
    objects = build(MANIFESTS / "environments" / "local")
    cluster = LocalCluster()
    # Platform pods are Ready only once their processes answer (kwokstages.py), and the data plane
    # runs those processes: start it unless an earlier test (the gate's) left it running.
    if dataplane_state(cluster.paths) is None:
        start_dataplane(cluster.paths)
    apply_objects(objects, platform_ready.kubeconfig)
    api = cluster.api_client()
    wait_ready(api, objects, timeout=240)
    apps = client.AppsV1Api(api)
    gw = apps.read_namespaced_deployment("api-gateway", "aideon-backend")
    assert gw.status.available_replicas == gw.spec.replicas >= 3
    nodes = {p.spec.node_name for p in client.CoreV1Api(api).list_namespaced_pod(
        "aideon-backend", label_selector="app.kubernetes.io/name=api-gateway").items}
    assert len(nodes) == gw.spec.replicas  # required anti-affinity: one gateway per node
    workloads = [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]
    assert len(workloads) == 18




def _deployment(version: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "selector-probe", "version": version}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "selector-probe", "namespace": "default"},
        "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "c", "image": "registry.aideon.local/probe:1"}]}}},
    }


def test_a_changed_selector_is_refused_elsewhere_and_recreated_on_our_clusters(platform_ready: KubeCluster) -> None:
    # the gateway's selector gained `version: v1` (its canary): a cluster deployed before must
    # either say so (someone else's cluster) or re-create the Deployment (the local one)
    apps = client.AppsV1Api(LocalCluster().api_client())
    apply_objects([_deployment("v1")], platform_ready.kubeconfig, source="old.yaml")
    try:
        first = apps.read_namespaced_deployment("selector-probe", "default").metadata.uid
        with pytest.raises(InputFileError, match=r"^new\.yaml: the API server refused .*field is immutable"):
            apply_objects([_deployment("v2")], platform_ready.kubeconfig, source="new.yaml")
        apply_objects([_deployment("v2")], platform_ready.kubeconfig, source="new.yaml", replace_immutable=True)
        now = apps.read_namespaced_deployment("selector-probe", "default")
        assert now.spec.selector.match_labels["version"] == "v2"
        assert now.metadata.uid != first  # re-created, not patched
    finally:
        apps.delete_namespaced_deployment("selector-probe", "default")
