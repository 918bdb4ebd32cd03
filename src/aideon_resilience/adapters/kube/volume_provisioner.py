"""The local cluster's volume provisioner: makes a PersistentVolume for each claim of a storage
class whose provisioner is `aideon.io/local-volume`, as an external provisioner does on a real
cluster (the protocol of sigs.k8s.io/sig-storage-lib-external-provisioner):

- the class binds `WaitForFirstConsumer`: the scheduler picks the pod's node and writes it on the
  claim (`volume.kubernetes.io/selected-node`); the PV controller has written which provisioner
  the claim waits for (`volume.kubernetes.io/storage-provisioner`);
- the provisioner creates a volume of the requested size and access modes, pre-bound to the claim
  (`claimRef` with its uid), annotated `pv.kubernetes.io/provisioned-by`, with the class's reclaim
  policy, and pinned to the zone of the selected node, like a zonal cloud disk (the CSI classes
  of the cloud environments): a pod that loses its node comes back on another node of that zone
  with the same volume; the PV controller then binds the pair and the scheduler binds the pod;
- a volume it made whose claim is gone (`Released`) is deleted when the class says `Delete`.

KWOK nodes run nothing, so nothing is ever written anywhere; the volume's source is a hostPath
under /var/lib/aideon that no process reads. The data plane's supervisor runs `reconcile` on its
tick. A rehearsal (no data plane) runs it in a thread (`BackgroundProvisioner`) for its overlay's
own provisioner names: it stands in for the cloud's CSI driver, which KWOK nodes cannot run, the
way a CSI driver would answer (a zonal volume after the scheduler's choice).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from aideon_resilience.core.selectors import HOSTNAME_LABEL, ZONE_LABEL

PROVISIONER = "aideon.io/local-volume"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
PERIOD_S = 1.0

log = logging.getLogger("aideon.dataplane.volumes")


def volume_for(claim: Any, reclaim_policy: str, node: str, zone: str | None,
               provisioner: str = PROVISIONER) -> dict[str, Any]:
    """The PersistentVolume `provisioner` makes for a V1PersistentVolumeClaim on `node` (in `zone`)."""
    md, spec = claim.metadata, claim.spec
    size = (spec.resources.requests or {}).get("storage", "1Gi")
    topology = ({"key": ZONE_LABEL, "operator": "In", "values": [zone]} if zone
                else {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]})
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{md.uid}", "annotations": {PROVISIONED_BY: provisioner},
                     "labels": {"app.kubernetes.io/managed-by": "aideon-local-volume"}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": list(spec.access_modes or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": reclaim_policy,
            "storageClassName": spec.storage_class_name,
            "volumeMode": spec.volume_mode or "Filesystem",
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": md.namespace,
                         "name": md.name, "uid": md.uid, "resourceVersion": md.resource_version},
            "hostPath": {"path": f"/var/lib/aideon/volumes/{md.namespace}/{md.name}", "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [topology]}]}},
        },
    }


class LocalVolumeProvisioner:
    """Volumes for the claims of the classes whose provisioner is one of `serves` (by default
    `aideon.io/local-volume`; see the module docstring)."""

    def __init__(self, core: client.CoreV1Api, storage: client.StorageV1Api,
                 serves: Iterable[str] = (PROVISIONER,)) -> None:
        self.core = core
        self.storage = storage
        self.serves = frozenset(serves)
        self.last = 0.0

    def due(self) -> bool:
        return time.monotonic() - self.last >= PERIOD_S

    def reconcile(self) -> list[str]:
        """One pass: the volumes created and deleted, as `created <name>` / `deleted <name>`."""
        self.last = time.monotonic()
        classes = {sc.metadata.name: sc for sc in self.storage.list_storage_class(_request_timeout=5).items
                   if sc.provisioner in self.serves}
        if not classes:
            return []
        volumes = self.core.list_persistent_volume(_request_timeout=5).items
        done: list[str] = []
        made_for = {pv.spec.claim_ref.uid for pv in volumes if pv.spec.claim_ref is not None}
        for claim in self.core.list_persistent_volume_claim_for_all_namespaces(_request_timeout=5).items:
            node = (claim.metadata.annotations or {}).get(SELECTED_NODE)
            sc = classes.get(claim.spec.storage_class_name or "")
            if sc is None or node is None or claim.spec.volume_name or claim.metadata.uid in made_for:
                continue
            if claim.metadata.deletion_timestamp is not None:
                continue
            done += self._provision(claim, sc, node)
        for pv in volumes:
            ours = (pv.metadata.annotations or {}).get(PROVISIONED_BY) in self.serves
            if ours and pv.status.phase == "Released" and pv.spec.persistent_volume_reclaim_policy == "Delete":
                self._delete(pv.metadata.name)
                done.append(f"deleted {pv.metadata.name}")
        return done

    def _provision(self, claim: Any, sc: Any, node: str) -> list[str]:
        try:
            zone = (self.core.read_node(node, _request_timeout=5).metadata.labels or {}).get(ZONE_LABEL)
        except ApiException as exc:
            log.warning("claim %s/%s: selected node %s unreadable (%s)", claim.metadata.namespace,
                        claim.metadata.name, node, exc.reason)
            return []
        body = volume_for(claim, sc.reclaim_policy or "Delete", node, zone, sc.provisioner)
        try:
            self.core.create_persistent_volume(body, _request_timeout=5)
        except ApiException as exc:
            if exc.status != 409:  # 409: made on an earlier pass
                log.warning("could not create %s for %s/%s: %s", body["metadata"]["name"],
                            claim.metadata.namespace, claim.metadata.name, exc.reason)
            return []
        log.info("provisioned %s for %s/%s in %s", body["metadata"]["name"], claim.metadata.namespace,
                 claim.metadata.name, zone or node)
        return [f"created {body['metadata']['name']}"]

    def _delete(self, name: str) -> None:
        try:
            self.core.delete_persistent_volume(name, _request_timeout=5)
        except ApiException as exc:
            if exc.status != 404:
                log.warning("could not delete released volume %s: %s", name, exc.reason)


class BackgroundProvisioner:
    """A `LocalVolumeProvisioner` reconciling every `PERIOD_S` in a daemon thread until `stop`."""

    def __init__(self, provisioner: LocalVolumeProvisioner) -> None:
        self.provisioner = provisioner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="volume-provisioner", daemon=True)

    def start(self) -> BackgroundProvisioner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.provisioner.reconcile()
            except Exception as exc:  # the API server away for a moment: the next pass retries
                log.warning("volume provisioner: %s", exc)
            self._stop.wait(PERIOD_S)
