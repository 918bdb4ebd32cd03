"""Simulated local volumes for clusters whose nodes run nothing (KWOK): what a static local-volume
provisioner does on a real cluster, so StatefulSet claims of a `kubernetes.io/no-provisioner`
storage class can bind and the scheduler places their pods under the real volume-binding rules.
(Classes with a provisioner get theirs from `adapters/kube/volume_provisioner.py`.)

One PersistentVolume per node and storage class, pinned to its node by node affinity and
labelled as simulated; nothing is written anywhere.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from aideon_resilience.core.selectors import HOSTNAME_LABEL

NO_PROVISIONER = "kubernetes.io/no-provisioner"
SIMULATED_LABEL = "aideon.io/simulated-volume"


def local_volume(node: str, storage_class: str, size: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"sim-{storage_class}-{node}", "labels": {SIMULATED_LABEL: "true"}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": storage_class,
            "volumeMode": "Filesystem",
            "local": {"path": f"/mnt/simulated/{storage_class}"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}
            ]}},
        },
    }


def no_provisioner_classes(objects: list[dict[str, Any]]) -> set[str]:
    """Names of the no-provisioner storage classes among rendered objects."""
    return {
        str(o["metadata"]["name"]) for o in objects
        if o.get("kind") == "StorageClass" and o.get("provisioner") == NO_PROVISIONER
    }


def dynamic_provisioners(objects: list[dict[str, Any]]) -> set[str]:
    """The provisioner names of the storage classes among rendered objects that make volumes."""
    return {
        str(o["provisioner"]) for o in objects
        if o.get("kind") == "StorageClass" and o.get("provisioner") not in (None, NO_PROVISIONER)
    }


def provision_local_volumes(api: client.ApiClient, size: str = "1Ti", only: set[str] | None = None,
                            classes: set[str] | None = None) -> int:
    """One simulated volume per node for every no-provisioner storage class of the cluster (or
    those in `only`), or for the `classes` named (which need not exist yet: a volume may name a
    class an overlay is about to create); returns the volumes created."""
    core, storage = client.CoreV1Api(api), client.StorageV1Api(api)
    if classes is None:
        classes = {
            sc.metadata.name for sc in storage.list_storage_class().items
            if sc.provisioner == NO_PROVISIONER and (only is None or sc.metadata.name in only)
        }
    existing = {pv.metadata.name for pv in core.list_persistent_volume(label_selector=SIMULATED_LABEL).items}
    created = 0
    for node in core.list_node().items:
        for sc in sorted(classes):
            body = local_volume(node.metadata.name, sc, size)
            if body["metadata"]["name"] not in existing:
                core.create_persistent_volume(body)
                created += 1
    return created
