"""Nodes of the local cluster: creation over zones, node loss (NotReady, unreachable) and recovery.

KWOK simulates a node's kubelet for every Node annotated `kwok.x-k8s.io/node: fake`. A lost node
keeps that annotation and is marked `aideon.io/node-loss: <mode>`; the cluster's KWOK stages
(`kwokstages.py`) then stop KWOK's own node stages from undoing the loss, and acknowledge it by
copying the mode into `aideon.io/node-loss-seen`. Each loss waits for that acknowledgement.

- `notready`: a kubelet whose runtime is down. It still renews its Lease; its Ready condition is
  set to False at once, the node-lifecycle controller taints it not-ready and taint-based eviction
  moves the pods away, and the "kubelet" confirms their deletion.
- `unreachable`: a kubelet that is gone. Its Lease is also taken over by another holder
  (`LOST_HOLDER`, renewed once, never again), which KWOK respects until it expires, and KWOK leaves
  a node whose Lease it does not hold alone (KWOK v0.8.0, `readOnlyFunc` in
  `pkg/kwok/controllers/controller.go`). The node-lifecycle controller sees neither a status nor a
  Lease renewal, marks the node Unknown after its grace period and taints it unreachable. KWOK
  also leaves the node's pods alone (the order in which the cluster's stages are made sees to it,
  `stage_objects.py`): evicted pods stay Terminating, as with a real lost kubelet, until something
  force-deletes them.

Restoring a node removes both annotations and deletes a taken-over Lease, which KWOK recreates;
KWOK's `node-initialize` stage then turns the node Ready again.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from aideon_resilience.core.selectors import HOSTNAME_LABEL, ZONE_LABEL
from aideon_resilience.errors import ClusterError, UsageError

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_MANAGED = "fake"
LOSS_ANNOTATION = "aideon.io/node-loss"
LOSS_SEEN_ANNOTATION = "aideon.io/node-loss-seen"
# seconds KWOK gets to play its node-loss stage (it does within a second on an idle cluster)
LOSS_SEEN_TIMEOUT_S = 30.0
MANAGED_LABEL = "aideon.io/local-cluster"


@dataclass(frozen=True)
class NodeSize:
    """Allocatable (and capacity) of every simulated node, as Kubernetes quantities."""

    cpu: str = "8"
    memory: str = "32Gi"
    pods: str = "110"

    @classmethod
    def of(cls, cpu_millis: int, memory_mib: int, pods: int) -> NodeSize:
        return cls(cpu=f"{cpu_millis}m", memory=f"{memory_mib}Mi", pods=str(pods))

    def resources(self) -> dict[str, str]:
        return {"cpu": self.cpu, "memory": self.memory, "pods": self.pods}


DEFAULT_NODE_SIZE = NodeSize()

def zone_names(zones: int) -> list[str]:
    if not 1 <= zones <= 26:
        raise UsageError(f"--zones must be between 1 and 26, got {zones}")
    return [f"zone-{chr(ord('a') + i)}" for i in range(zones)]


def node_layout(nodes: int, zones: int) -> list[tuple[str, str]]:
    """(node name, zone) for N nodes spread round-robin over Z zones."""
    if nodes < 1:
        raise UsageError(f"--nodes must be at least 1, got {nodes}")
    names = zone_names(zones)
    counters: dict[str, int] = defaultdict(int)
    layout: list[tuple[str, str]] = []
    for i in range(nodes):
        zone = names[i % len(names)]
        counters[zone] += 1
        layout.append((f"node-{zone.removeprefix('zone-')}{counters[zone]}", zone))
    return layout


def node_manifest(name: str, zone: str, index: int, size: NodeSize = DEFAULT_NODE_SIZE) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                KWOK_ANNOTATION: KWOK_MANAGED,
                "node.alpha.kubernetes.io/ttl": "0",
                "metrics.k8s.io/resource-metrics-path": f"/metrics/nodes/{name}/metrics/resource",
            },
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                HOSTNAME_LABEL: name,
                ZONE_LABEL: zone,
                "topology.kubernetes.io/region": "local",
                "node-role.kubernetes.io/worker": "",
                "type": "kwok",
                MANAGED_LABEL: "true",
            },
        },
        "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"]},
        "status": {
            "allocatable": size.resources(),
            "capacity": size.resources(),
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "bootID": "",
                "containerRuntimeVersion": "kwok",
                "kernelVersion": "kwok",
                "kubeProxyVersion": "",
                "kubeletVersion": "kwok",
                "machineID": name,
                "osImage": "kwok",
                "systemUUID": name,
            },
            # KWOK serves every node's kubelet API on loopback; metrics-server scrapes it here.
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
        },
    }


def reconcile_nodes(
    api: client.CoreV1Api, nodes: int, zones: int, size: NodeSize = DEFAULT_NODE_SIZE
) -> list[str]:
    """Create the missing nodes of the layout and remove local nodes beyond it; returns names."""
    layout = node_layout(nodes, zones)
    wanted = {name for name, _ in layout}
    existing = {n.metadata.name for n in api.list_node(label_selector=f"{MANAGED_LABEL}=true").items}
    for index, (name, zone) in enumerate(layout):
        if name not in existing:
            api.create_node(node_manifest(name, zone, index, size))
    for name in sorted(existing - wanted):
        api.delete_node(name)
    return [name for name, _ in layout]


def nodes_by_zone(api: client.CoreV1Api) -> dict[str, list[str]]:
    """Zone name -> sorted node names (nodes without a zone label go under "")."""
    zones: dict[str, list[str]] = defaultdict(list)
    for node in api.list_node().items:
        zones[(node.metadata.labels or {}).get(ZONE_LABEL, "")].append(node.metadata.name)
    return {zone: sorted(names) for zone, names in sorted(zones.items())}


def node_ready(api: client.CoreV1Api, name: str) -> str:
    """Status of the node's Ready condition: "True", "False" or "Unknown"."""
    node = api.read_node(name)
    for cond in node.status.conditions or []:
        if cond.type == "Ready":
            return str(cond.status)
    return "Unknown"


def _mark_loss(api: client.CoreV1Api, name: str, mode: str) -> None:
    """Mark the node lost in `mode` and wait until KWOK's node-loss stage has seen it (module docstring)."""
    api.patch_node(name, {"metadata": {"annotations": {KWOK_ANNOTATION: KWOK_MANAGED, LOSS_ANNOTATION: mode}}})
    deadline = time.monotonic() + LOSS_SEEN_TIMEOUT_S
    while (api.read_node(name).metadata.annotations or {}).get(LOSS_SEEN_ANNOTATION) != mode:
        if time.monotonic() > deadline:
            raise ClusterError(
                f"KWOK did not take node {name}'s loss within {LOSS_SEEN_TIMEOUT_S:.0f}s (no {LOSS_SEEN_ANNOTATION} "
                "annotation): the local cluster runs KWOK stages older than this version; `cluster up` recreates it"
            )
        time.sleep(0.2)


def _clear_loss(api: client.CoreV1Api, name: str) -> None:
    annotations = {KWOK_ANNOTATION: KWOK_MANAGED, LOSS_ANNOTATION: None, LOSS_SEEN_ANNOTATION: None}
    api.patch_node(name, {"metadata": {"annotations": annotations}})


LEASE_NAMESPACE = "kube-node-lease"
LOST_HOLDER = "aideon-resilience/node-loss"
# long enough that KWOK never takes a lost node's lease back before the node is restored
LOST_LEASE_SECONDS = 86400


def _take_lease(api: client.CoreV1Api, name: str) -> None:
    """Hold the node's Lease as another holder, renewed now and never again (module docstring)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    client.CoordinationV1Api(api.api_client).patch_namespaced_lease(
        name, LEASE_NAMESPACE,
        {"spec": {"holderIdentity": LOST_HOLDER, "renewTime": now, "leaseDurationSeconds": LOST_LEASE_SECONDS}},
    )  # fmt: skip


def _give_lease_back(api: client.CoreV1Api, name: str) -> None:
    """Delete the node's Lease if node loss holds it: KWOK creates its own again."""
    leases = client.CoordinationV1Api(api.api_client)
    try:
        lease = leases.read_namespaced_lease(name, LEASE_NAMESPACE)
        if lease.spec.holder_identity == LOST_HOLDER:
            leases.delete_namespaced_lease(name, LEASE_NAMESPACE)
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def make_node_unreachable(api: client.CoreV1Api, name: str) -> dict[str, Any]:
    """Stop the node's heartbeats and lease renewals: after the grace period it turns Unknown and gets tainted."""
    _mark_loss(api, name, "unreachable")
    _take_lease(api, name)
    return {"node": name, "mode": "unreachable", "at": time.time()}


def make_node_unready(api: client.CoreV1Api, name: str) -> dict[str, Any]:
    """Report Ready=False at once and keep it, as a kubelet with a broken runtime does."""
    _mark_loss(api, name, "notready")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    node = api.read_node(name)
    conditions = []
    for cond in node.status.conditions or []:
        c = api.api_client.sanitize_for_serialization(cond)
        if c.get("type") == "Ready":
            c.update(status="False", reason="KubeletNotReady", message="container runtime is down (chaos)",
                     lastTransitionTime=now, lastHeartbeatTime=now)
        conditions.append(c)
    if not any(c.get("type") == "Ready" for c in conditions):
        conditions.append({"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                           "message": "container runtime is down (chaos)",
                           "lastTransitionTime": now, "lastHeartbeatTime": now})
    api.patch_node_status(name, {"status": {"conditions": conditions}})
    return {"node": name, "mode": "notready", "at": time.time()}


def restore_node(api: client.CoreV1Api, name: str) -> dict[str, Any]:
    """Hand the node back to KWOK: heartbeats and lease renewals resume and it turns Ready again."""
    _clear_loss(api, name)
    _give_lease_back(api, name)
    return {"node": name, "mode": "restored", "at": time.time()}


def wait_node_ready(api: client.CoreV1Api, name: str, want: str, timeout: float) -> float:
    """Wait until the node's Ready condition is `want`; returns seconds waited."""
    start = time.monotonic()
    while True:
        try:
            status = node_ready(api, name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
            status = "Missing"
        if status == want:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise ClusterError(f"node {name} did not become Ready={want} within {timeout:.0f}s (it is {status})")
        time.sleep(1)
