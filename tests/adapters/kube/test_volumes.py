"""Simulated local volumes on the real control plane: a claim of a no-provisioner class leaves its
pod Pending until a volume exists on some node, then the scheduler binds and places it."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client

from aideon_resilience.adapters.kube.client import api_client_for
from aideon_resilience.adapters.kube.volumes import NO_PROVISIONER, SIMULATED_LABEL, provision_local_volumes
from tests.adapters.localcluster.kubehelpers import namespace, wait_for
from tests.conftest import KubeCluster

pytestmark = [pytest.mark.cluster]


def _statefulset(storage_class: str) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {
            "replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [
                {"name": "db", "image": "registry.aideon.local/test/db:1",
                 "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                "resources": {"requests": {"storage": "10Gi"}}}}],
        },
    }  # fmt: skip


def test_claims_bind_only_once_simulated_volumes_exist(kube_cluster: KubeCluster) -> None:
    api = api_client_for(kube_cluster.kubeconfig, kube_cluster.context)
    core, apps, storage = client.CoreV1Api(api), client.AppsV1Api(api), client.StorageV1Api(api)
    sc = f"t-sim-{uuid.uuid4().hex[:6]}"
    storage.create_storage_class({"metadata": {"name": sc}, "provisioner": NO_PROVISIONER,
                                  "volumeBindingMode": "WaitForFirstConsumer"})
    try:
        with namespace(core, "t-volumes") as ns:
            apps.create_namespaced_stateful_set(ns, _statefulset(sc))

            def unschedulable() -> bool:
                pod = next(iter(core.list_namespaced_pod(ns, label_selector="app=db").items), None)
                conds = (pod.status.conditions or []) if pod is not None else []
                return any(c.type == "PodScheduled" and c.reason == "Unschedulable" for c in conds)

            wait_for("the pod to be unschedulable for want of a volume", unschedulable, timeout=60)
            created = provision_local_volumes(api, size="20Gi", only={sc})
            assert created == len(core.list_node().items)
            assert provision_local_volumes(api, size="20Gi", only={sc}) == 0  # idempotent
            wait_for("the claim to bind", lambda: core.read_namespaced_persistent_volume_claim(
                "data-db-0", ns).status.phase == "Bound", timeout=90)
            pod = wait_for("the pod to run", lambda: (p := core.read_namespaced_pod("db-0", ns)).status.phase
                           == "Running" and p, timeout=90)
            claim = core.read_namespaced_persistent_volume_claim("data-db-0", ns)
            affinity = core.read_persistent_volume(claim.spec.volume_name).spec.node_affinity
            assert affinity.required.node_selector_terms[0].match_expressions[0].values == [pod.spec.node_name]
    finally:
        for pv in core.list_persistent_volume(label_selector=SIMULATED_LABEL).items:
            if pv.spec.storage_class_name == sc:
                core.delete_persistent_volume(pv.metadata.name)
        storage.delete_storage_class(sc)
