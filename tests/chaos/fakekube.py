"""A small in-memory stand-in for the parts of the Kubernetes API the chaos extension calls."""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from kubernetes.client import V1Deployment, V1DeploymentStatus
from kubernetes.client.exceptions import ApiException

from aideon_resilience.chaos import selectors
from aideon_resilience.chaos.k8s import KubeClients


def api_error(status: int) -> ApiException:
    return ApiException(status=status, reason={404: "Not Found", 429: "Too Many Requests"}.get(status, "Error"))


def node(name: str, zone: str, unschedulable: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        metadata=SimpleNamespace(name=name, labels={"topology.kubernetes.io/zone": zone, "type": "kwok"}),
        spec=SimpleNamespace(unschedulable=unschedulable, taints=None),
        status=SimpleNamespace(conditions=[SimpleNamespace(type="Ready", status="True")]),
    )


def pod(
    name: str,
    namespace: str,
    node_name: str | None,
    labels: dict[str, str] | None = None,
    owner_kind: str = "ReplicaSet",
    annotations: dict[str, str] | None = None,
    phase: str = "Running",
) -> SimpleNamespace:
    return SimpleNamespace(
        metadata=SimpleNamespace(
            name=name,
            namespace=namespace,
            uid=f"uid-{namespace}-{name}",
            labels=labels or {},
            annotations=annotations or {},
            owner_references=[SimpleNamespace(kind=owner_kind, name="owner")],
            deletion_timestamp=None,
        ),
        spec=SimpleNamespace(node_name=node_name),
        status=SimpleNamespace(phase=phase),
    )


def pdb(name: str, namespace: str, match_labels: dict[str, str], healthy: int, desired: int) -> SimpleNamespace:
    return SimpleNamespace(
        metadata=SimpleNamespace(name=name, namespace=namespace),
        spec=SimpleNamespace(selector=SimpleNamespace(match_labels=match_labels, match_expressions=None)),
        status=SimpleNamespace(
            current_healthy=healthy,
            desired_healthy=desired,
            disruptions_allowed=max(0, healthy - desired),
            expected_pods=healthy,
        ),
    )


class FakeCore:
    def __init__(self) -> None:
        self.nodes: dict[str, SimpleNamespace] = {}
        self.pods: dict[tuple[str, str], SimpleNamespace] = {}
        self.namespaces: dict[str, dict[str, str]] = {}
        self.mutations: list[tuple[Any, ...]] = []
        self.evictions: list[str] = []
        # decides an eviction: return None to allow, or raise (e.g. api_error(429))
        self.on_evict: Callable[[SimpleNamespace], None] = lambda p: None
        self.on_patch_node: Callable[[str, dict[str, Any]], None] = lambda n, b: None

    # nodes
    def list_node(self, label_selector: str | None = None) -> SimpleNamespace:
        items = [n for n in self.nodes.values() if selectors.matches(label_selector, n.metadata.labels)]
        return SimpleNamespace(items=sorted(items, key=lambda n: n.metadata.name))

    def read_node(self, name: str) -> SimpleNamespace:
        if name not in self.nodes:
            raise api_error(404)
        return self.nodes[name]

    def patch_node(self, name: str, body: dict[str, Any]) -> SimpleNamespace:
        self.on_patch_node(name, body)
        n = self.read_node(name)
        self.mutations.append(("patch_node", name, body))
        if "spec" in body and "unschedulable" in body["spec"]:
            n.spec.unschedulable = body["spec"]["unschedulable"]
        if "spec" in body and "taints" in body["spec"]:
            n.spec.taints = [dict(t) for t in body["spec"]["taints"]] or None
        return n

    # namespaces
    def read_namespace(self, name: str) -> SimpleNamespace:
        if name not in self.namespaces:
            raise api_error(404)
        return SimpleNamespace(metadata=SimpleNamespace(name=name, labels=self.namespaces[name]))

    # pods
    def list_pod_for_all_namespaces(self, field_selector: str = "") -> SimpleNamespace:
        node_name = field_selector.split("=", 1)[1] if field_selector.startswith("spec.nodeName=") else None
        items = [p for p in self.pods.values() if node_name is None or p.spec.node_name == node_name]
        return SimpleNamespace(items=items)

    def list_namespaced_pod(self, namespace: str, label_selector: str | None = None) -> SimpleNamespace:
        items = [
            p
            for (ns, _), p in self.pods.items()
            if ns == namespace and selectors.matches(label_selector, p.metadata.labels)
        ]
        return SimpleNamespace(items=sorted(items, key=lambda p: p.metadata.name))

    def read_namespaced_pod(self, name: str, namespace: str) -> SimpleNamespace:
        if (namespace, name) not in self.pods:
            raise api_error(404)
        return self.pods[(namespace, name)]

    def delete_namespaced_pod(self, name: str, namespace: str, grace_period_seconds: int | None = None) -> None:
        if (namespace, name) not in self.pods:
            raise api_error(404)
        self.mutations.append(("delete_pod", namespace, name))
        del self.pods[(namespace, name)]

    def create_namespaced_pod_eviction(self, name: str, namespace: str, body: Any) -> None:
        p = self.read_namespaced_pod(name, namespace)
        self.on_evict(p)
        self.mutations.append(("evict", namespace, name))
        self.evictions.append(f"{namespace}/{name}")
        del self.pods[(namespace, name)]


class FakePolicy:
    def __init__(self) -> None:
        self.pdbs: list[SimpleNamespace] = []

    def list_namespaced_pod_disruption_budget(self, namespace: str) -> SimpleNamespace:
        return SimpleNamespace(items=[p for p in self.pdbs if p.metadata.namespace == namespace])

    def read_namespaced_pod_disruption_budget(self, name: str, namespace: str) -> SimpleNamespace:
        for p in self.pdbs:
            if p.metadata.name == name and p.metadata.namespace == namespace:
                return p
        raise api_error(404)


class FakeApps:
    def __init__(self) -> None:
        self.deployments: dict[tuple[str, str], Any] = {}
        self.mutations: list[tuple[Any, ...]] = []
        # the controller's pass after a create or a scale: e.g. report the replicas ready
        self.on_change: Callable[[Any], None] = lambda d: None

    def read_namespaced_deployment(self, name: str, namespace: str) -> Any:
        if (namespace, name) not in self.deployments:
            raise api_error(404)
        return self.deployments[(namespace, name)]

    def create_namespaced_deployment(self, namespace: str, body: dict[str, Any]) -> Any:
        name = body["metadata"]["name"]
        if (namespace, name) in self.deployments:
            raise api_error(409)
        self.mutations.append(("create_deployment", namespace, name, copy.deepcopy(body)))
        dep = V1Deployment.from_dict(body)
        assert dep is not None and dep.metadata is not None
        dep.metadata.namespace, dep.metadata.uid, dep.metadata.generation = namespace, f"uid-{namespace}-{name}", 1
        dep.status = V1DeploymentStatus(observed_generation=1, replicas=0)
        self.deployments[(namespace, name)] = dep
        self.on_change(dep)
        return dep

    def delete_namespaced_deployment(self, name: str, namespace: str, **options: Any) -> None:
        self.read_namespaced_deployment(name, namespace)
        self.mutations.append(("delete_deployment", namespace, name))
        del self.deployments[(namespace, name)]

    def patch_namespaced_deployment_scale(self, name: str, namespace: str, body: dict[str, Any]) -> None:
        dep = self.read_namespaced_deployment(name, namespace)
        self.mutations.append(("scale_deployment", namespace, name, body["spec"]["replicas"]))
        dep.spec.replicas = body["spec"]["replicas"]
        dep.metadata.generation = (dep.metadata.generation or 0) + 1
        dep.status.observed_generation = dep.metadata.generation
        self.on_change(dep)

    def read_namespaced_stateful_set(self, name: str, namespace: str) -> SimpleNamespace:
        raise api_error(404)


class FakeAutoscaling:
    def __init__(self) -> None:
        self.hpas: dict[tuple[str, str], SimpleNamespace] = {}

    def read_namespaced_horizontal_pod_autoscaler(self, name: str, namespace: str) -> SimpleNamespace:
        if (namespace, name) not in self.hpas:
            raise api_error(404)
        return self.hpas[(namespace, name)]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (what the API server does with application/merge-patch+json)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class FakeCustomObjects:
    """Custom objects (an Istio VirtualService) as plain dicts, by (group, version, namespace, plural, name)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
        self.mutations: list[tuple[Any, ...]] = []

    def get_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> dict[str, Any]:
        key = (group, version, namespace, plural, name)
        if key not in self.objects:
            raise api_error(404)
        return copy.deepcopy(self.objects[key])

    def patch_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        key = (group, version, namespace, plural, name)
        current = self.get_namespaced_custom_object(group, version, namespace, plural, name)
        version_now = current.get("metadata", {}).get("resourceVersion")
        wanted = body.get("metadata", {}).get("resourceVersion")
        if wanted is not None and wanted != version_now:
            raise api_error(409)
        self.mutations.append(("patch_custom", namespace, plural, name, copy.deepcopy(body)))
        patched = merge_patch(current, body)
        patched.setdefault("metadata", {})["resourceVersion"] = str(int(version_now or 0) + 1)
        self.objects[key] = patched
        return copy.deepcopy(patched)


class FakeKube:
    def __init__(self) -> None:
        self.core = FakeCore()
        self.policy = FakePolicy()
        self.apps = FakeApps()
        self.autoscaling = FakeAutoscaling()
        self.custom = FakeCustomObjects()

    def clients(self) -> KubeClients:
        return KubeClients(core=self.core, policy=self.policy, apps=self.apps, autoscaling=self.autoscaling)

    def cluster_of(self, nodes: int = 6, zones: tuple[str, ...] = ("zone-a", "zone-b", "zone-c")) -> FakeKube:
        for i in range(nodes):
            zone = zones[i % len(zones)]
            name = f"node-{zone[-1]}{i // len(zones) + 1}"
            self.core.nodes[name] = node(name, zone)
        return self
