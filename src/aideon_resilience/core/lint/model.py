"""The objects a lint run sees, indexed for the rules, and the findings the rules report.

Input is plain dictionaries (rendered Kubernetes objects and kustomization files); core never
reads files or talks to a cluster. `Inventory` groups the objects by what the rules need:
workloads with their pod templates, HPAs, PDBs, network policies, kustomization files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from aideon_resilience.core.lint.kinds import KubeObject as KubeObject  # the rules name it through the model
from aideon_resilience.core.lint.kinds import is_namespaced
from aideon_resilience.core.selectors import selector_matches as selector_matches  # the rules name it here

DEFAULT_NAMESPACE = "default"
KUSTOMIZE_KINDS = frozenset({"Kustomization", "Component"})
HOSTNAME_KEY = "kubernetes.io/hostname"
ZONE_KEYS = frozenset({"topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"})


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# Plain frozen dataclasses, not pydantic models: the lint starts in editors and hooks, and
# importing pydantic costs about 0.1 s of a 0.3 s start-up budget.


@dataclass(frozen=True)
class ObjectRef:
    """Which object a finding is about; `namespace` is null for cluster-scoped objects."""

    kind: str
    namespace: str | None
    name: str

    def display(self) -> str:
        if self.namespace is None:
            return f"{self.kind}/{self.name}"
        return f"{self.kind}/{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Suppression:
    """Why a finding does not count: an object's ignore annotation (with its reason) or `--disable`."""

    by: str  # "annotation" or "disable"
    reason: str


@dataclass(frozen=True)
class Location:
    """Where the object of a finding is written: a source file and the line its document starts on."""

    file: str
    line: int


@dataclass(frozen=True)
class Finding:
    """One lint result: a stable rule code, its severity, the object and a one-line message.

    A suppressed finding is still reported (with `suppressed`), it only does not count.
    """

    code: str
    severity: Severity
    object: ObjectRef
    message: str
    suppressed: Suppression | None = None
    location: Location | None = None

    def line(self) -> str:
        text = f"{self.severity.value} {self.code} {self.object.display()}: {self.message}"
        if self.suppressed is not None:
            return f"suppressed {text} [{self.suppressed.by}: {self.suppressed.reason}]"
        return text

    @property
    def counts(self) -> bool:
        return self.suppressed is None

    def contract(self) -> dict[str, Any]:
        """The JSON form: code, severity, object, message; `suppressed`/`location` only when set."""
        data: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity.value,
            "object": {"kind": self.object.kind, "namespace": self.object.namespace, "name": self.object.name},
            "message": self.message,
        }
        if self.suppressed is not None:
            data["suppressed"] = {"by": self.suppressed.by, "reason": self.suppressed.reason}
        if self.location is not None:
            data["location"] = {"file": self.location.file, "line": self.location.line}
        return data

    def with_suppression(self, suppression: Suppression) -> Finding:
        return replace(self, suppressed=suppression)

    def with_location(self, location: Location) -> Finding:
        return replace(self, location=location)


@dataclass(frozen=True)
class LintContext:
    """What the lint assumes about the cluster: schedulable nodes and (when declared) zones and the
    allocatable CPU and memory of one node (the capacity analyses are skipped without them)."""

    nodes: int
    zones: int | None = None
    node_cpu_millis: int | None = None
    node_memory_mib: int | None = None

    @property
    def nodes_per_zone(self) -> int:
        """Nodes of the largest zone (nodes spread as evenly as the count allows)."""
        return math.ceil(self.nodes / self.zones) if self.zones else self.nodes


def ref(obj: KubeObject) -> ObjectRef:
    meta = obj.get("metadata") or {}
    namespace = (meta.get("namespace") or DEFAULT_NAMESPACE) if is_namespaced(obj) else None
    return ObjectRef(kind=str(obj.get("kind", "")), namespace=namespace, name=str(meta.get("name", "")))


def finding(code: str, severity: Severity, obj: KubeObject, message: str) -> Finding:
    return Finding(code=code, severity=severity, object=ref(obj), message=message)


# --- workloads -------------------------------------------------------------------------------

SERVING_WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})
SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})
WORKLOAD_KINDS = SERVING_WORKLOAD_KINDS | {"Job", "CronJob"}


@dataclass
class Workload:
    """A pod-creating object and the pieces the rules read from it."""

    obj: KubeObject
    kind: str
    namespace: str
    name: str
    pod_spec: Mapping[str, Any]
    pod_labels: dict[str, str]
    replicas: int | None  # None for kinds without a replica count (DaemonSet, Job)
    hpa: KubeObject | None = None

    @property
    def min_replicas(self) -> int | None:
        """What the workload runs at its lowest: the HPA's minReplicas, else spec.replicas."""
        if self.hpa is not None:
            return int((self.hpa.get("spec") or {}).get("minReplicas", 1))
        return self.replicas

    @property
    def max_replicas(self) -> int | None:
        if self.hpa is not None:
            max_r = (self.hpa.get("spec") or {}).get("maxReplicas")
            return int(max_r) if max_r is not None else None
        return self.replicas

    @property
    def serving(self) -> bool:
        return self.kind in SERVING_WORKLOAD_KINDS

    @property
    def scalable(self) -> bool:
        return self.kind in SCALABLE_KINDS

    @property
    def display(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def containers(self) -> list[Mapping[str, Any]]:
        return [c for c in self.pod_spec.get("containers") or [] if isinstance(c, Mapping)]

    def pod_request(self, resource: str) -> float | None:
        """Sum of the containers' requests of `resource` in base units (cores, bytes); None if any
        container has none or it cannot be read."""
        total = 0.0
        for c in self.containers:
            value = quantity(((c.get("resources") or {}).get("requests") or {}).get(resource))
            if value is None:
                return None
            total += value
        return total


_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_SUFFIX = {
    None: 1.0, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60,
}


def quantity(value: object) -> float | None:
    """A Kubernetes resource quantity ("500m", "1.5", "2Gi") in base units; None if unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    m = _QUANTITY.match(str(value).strip())
    if m is None:
        return None
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def _pod_template(obj: KubeObject) -> Mapping[str, Any] | None:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = spec.get("template")
    return template if isinstance(template, Mapping) else None


def _workload(obj: KubeObject) -> Workload | None:
    template = _pod_template(obj)
    if template is None:
        return None
    kind = str(obj.get("kind"))
    meta = obj.get("metadata") or {}
    replicas: int | None = None
    if kind in SCALABLE_KINDS:
        replicas = int((obj.get("spec") or {}).get("replicas", 1))
    labels = {str(k): str(v) for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()}
    return Workload(
        obj=obj,
        kind=kind,
        namespace=str(meta.get("namespace") or DEFAULT_NAMESPACE),
        name=str(meta.get("name", "")),
        pod_spec=template.get("spec") or {},
        pod_labels=labels,
        replicas=replicas,
    )


def namespace_of(obj: KubeObject) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or DEFAULT_NAMESPACE)


_INDEXED = {
    "Service": "services",
    "DestinationRule": "destination_rules",
    "StorageClass": "storage_classes",
    "PersistentVolume": "persistent_volumes",
    "ResourceQuota": "quotas",
}


@dataclass
class Inventory:
    """All objects of one lint run, grouped for the rules."""

    objects: list[KubeObject]
    workloads: list[Workload] = field(default_factory=list)
    hpas: list[KubeObject] = field(default_factory=list)
    pdbs: list[KubeObject] = field(default_factory=list)
    network_policies: list[KubeObject] = field(default_factory=list)
    kustomizations: list[KubeObject] = field(default_factory=list)
    services: list[KubeObject] = field(default_factory=list)
    destination_rules: list[KubeObject] = field(default_factory=list)
    storage_classes: list[KubeObject] = field(default_factory=list)
    persistent_volumes: list[KubeObject] = field(default_factory=list)
    quotas: list[KubeObject] = field(default_factory=list)

    @classmethod
    def from_objects(cls, objects: Iterable[KubeObject]) -> Inventory:
        inv = cls(objects=list(objects))
        for obj in inv.objects:
            kind = obj.get("kind")
            if kind in KUSTOMIZE_KINDS:
                inv.kustomizations.append(obj)
            elif kind == "HorizontalPodAutoscaler":
                inv.hpas.append(obj)
            elif kind == "PodDisruptionBudget":
                inv.pdbs.append(obj)
            elif kind == "NetworkPolicy":
                inv.network_policies.append(obj)
            elif kind in _INDEXED:
                getattr(inv, _INDEXED[str(kind)]).append(obj)
            elif kind in WORKLOAD_KINDS:
                wl = _workload(obj)
                if wl is not None:
                    inv.workloads.append(wl)
        for hpa in inv.hpas:
            target = inv.hpa_target(hpa)
            if target is not None:
                target.hpa = hpa
        return inv

    def hpa_target(self, hpa: KubeObject) -> Workload | None:
        target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        for wl in self.workloads:
            if (
                wl.kind == target.get("kind")
                and wl.name == target.get("name")
                and wl.namespace == namespace_of(hpa)
            ):
                return wl
        return None

    def pdbs_for(self, wl: Workload) -> list[KubeObject]:
        """The PodDisruptionBudgets whose selector matches the workload's pods."""
        return [pdb for pdb in self.pdbs if any(w is wl for w in self.selected_workloads(pdb))]

    def service_workloads(self, service: KubeObject) -> list[Workload]:
        """Workloads whose pods a Service's selector picks (none for a selector-less Service)."""
        selector = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            return []
        ns = namespace_of(service)
        return [
            wl for wl in self.workloads
            if wl.namespace == ns and selector_matches({"matchLabels": selector}, wl.pod_labels)
        ]

    def selected_workloads(self, pdb: KubeObject) -> list[Workload]:
        selector = (pdb.get("spec") or {}).get("selector")
        ns = namespace_of(pdb)
        if selector is None:  # policy/v1: a missing selector selects nothing, {} selects all pods
            return []
        return [
            wl for wl in self.workloads if wl.namespace == ns and selector_matches(selector, wl.pod_labels)
        ]


def scaled_int_or_percent(value: int | str, total: int) -> int:
    """IntOrString scaled against a total, rounding up like the disruption controller."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)
