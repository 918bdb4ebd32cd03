"""The Kubernetes kinds the lint knows: apiVersion/kind pairs with their scope, the deprecated
API versions and what replaces them, and the kinds CustomResourceDefinitions in the input add."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

KubeObject = Mapping[str, Any]

# Known apiVersion/kind pairs, with scope (True = namespaced). Deprecated versions are known
# (the deprecation rule warns about them); anything else is unusable input.
_CORE_NAMESPACED = (
    "ConfigMap Secret Service ServiceAccount PersistentVolumeClaim Pod ResourceQuota LimitRange "
    "Endpoints Event ReplicationController"
)
_KNOWN: dict[tuple[str, str], bool] = {}


def _register(api_versions: Iterable[str], kinds: str, namespaced: bool) -> None:
    for api_version in api_versions:
        for kind in kinds.split():
            _KNOWN[(api_version, kind)] = namespaced


_register(["v1"], _CORE_NAMESPACED, True)
_register(["v1"], "Namespace PersistentVolume Node", False)
_register(["apps/v1"], "Deployment StatefulSet DaemonSet ReplicaSet ControllerRevision", True)
_register(["batch/v1"], "Job CronJob", True)
_register(["autoscaling/v2", "autoscaling/v1", "autoscaling/v2beta2", "autoscaling/v2beta1"],
          "HorizontalPodAutoscaler", True)
_register(["policy/v1", "policy/v1beta1"], "PodDisruptionBudget", True)
_register(["networking.k8s.io/v1"], "NetworkPolicy Ingress", True)
_register(["networking.k8s.io/v1"], "IngressClass", False)
_register(["rbac.authorization.k8s.io/v1"], "Role RoleBinding", True)
_register(["rbac.authorization.k8s.io/v1"], "ClusterRole ClusterRoleBinding", False)
_register(["storage.k8s.io/v1"], "StorageClass CSIDriver VolumeAttachment", False)
_register(["scheduling.k8s.io/v1"], "PriorityClass", False)
_register(["coordination.k8s.io/v1"], "Lease", True)
_register(["apiextensions.k8s.io/v1"], "CustomResourceDefinition", False)
_register(["admissionregistration.k8s.io/v1"],
          "ValidatingWebhookConfiguration MutatingWebhookConfiguration", False)
_register(["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"],
          "VirtualService DestinationRule Gateway ServiceEntry Sidecar", True)
_register(["security.istio.io/v1", "security.istio.io/v1beta1"],
          "PeerAuthentication AuthorizationPolicy RequestAuthentication", True)
_register(["cert-manager.io/v1"], "Certificate Issuer CertificateRequest", True)
_register(["cert-manager.io/v1"], "ClusterIssuer", False)
_register(["argoproj.io/v1alpha1"], "Application AppProject ApplicationSet", True)
_register(["monitoring.coreos.com/v1"], "ServiceMonitor PodMonitor PrometheusRule", True)
_register(["kustomize.config.k8s.io/v1beta1"], "Kustomization", False)
_register(["kustomize.config.k8s.io/v1alpha1"], "Component", False)

DEPRECATED_API_VERSIONS: dict[str, str] = {
    "networking.istio.io/v1alpha3": "networking.istio.io/v1",
    "networking.istio.io/v1beta1": "networking.istio.io/v1",
    "security.istio.io/v1beta1": "security.istio.io/v1",
    "autoscaling/v2beta2": "autoscaling/v2",
    "autoscaling/v2beta1": "autoscaling/v2",
    "autoscaling/v1": "autoscaling/v2",
    "policy/v1beta1": "policy/v1",
}


def _crd_kinds(objects: Iterable[KubeObject]) -> dict[tuple[str, str], bool]:
    """apiVersion/kind pairs defined by CustomResourceDefinitions among the input objects."""
    found: dict[tuple[str, str], bool] = {}
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj.get("spec") or {}
        group = spec.get("group")
        kind = (spec.get("names") or {}).get("kind")
        namespaced = spec.get("scope", "Namespaced") == "Namespaced"
        for version in spec.get("versions") or []:
            if group and kind and isinstance(version, Mapping) and version.get("name"):
                found[(f"{group}/{version['name']}", kind)] = namespaced
    return found


def unknown_kinds(objects: Iterable[KubeObject]) -> list[str]:
    """Descriptions (`kind (apiVersion)`) of objects whose apiVersion/kind the lint does not know."""
    objects = list(objects)
    known = {**_KNOWN, **_crd_kinds(objects)}
    bad: list[str] = []
    for obj in objects:
        key = (str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if key not in known:
            bad.append(f"{key[1] or '(no kind)'} ({key[0] or 'no apiVersion'})")
    return bad


def is_namespaced(obj: KubeObject) -> bool:
    key = (str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    return _KNOWN.get(key, True)
