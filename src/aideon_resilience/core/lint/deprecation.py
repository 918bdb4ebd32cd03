"""Deprecated APIs and fields: Istio v1alpha3/v1beta1, `consecutiveErrors`, old kustomize fields."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aideon_resilience.core.lint.kinds import DEPRECATED_API_VERSIONS
from aideon_resilience.core.lint.model import (
    KUSTOMIZE_KINDS,
    Finding,
    Inventory,
    LintContext,
    Severity,
)
from aideon_resilience.core.lint.rule import Rule

DEPRECATED_KUSTOMIZE_FIELDS: dict[str, str] = {
    "patchesStrategicMerge": "patches",
    "patchesJson6902": "patches",
    "bases": "resources",
    "commonLabels": "labels",
}


def _check_api_versions(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for obj in inv.objects:
        if obj.get("kind") in KUSTOMIZE_KINDS:
            continue
        api_version = str(obj.get("apiVersion", ""))
        if api_version in DEPRECATED_API_VERSIONS:
            yield DEP_API.report(
                obj, f"apiVersion {api_version} is deprecated: use {DEPRECATED_API_VERSIONS[api_version]}"
            )


def outlier_detections(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, outlierDetection) of a DestinationRule spec: top level, per port and per subset."""
    def from_policy(path: str, policy: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
        if not isinstance(policy, Mapping):
            return
        od = policy.get("outlierDetection")
        if isinstance(od, Mapping):
            yield f"{path}.outlierDetection", od
        for i, port in enumerate(policy.get("portLevelSettings") or []):
            if isinstance(port, Mapping) and isinstance(port.get("outlierDetection"), Mapping):
                yield f"{path}.portLevelSettings[{i}].outlierDetection", port["outlierDetection"]

    yield from from_policy("spec.trafficPolicy", spec.get("trafficPolicy"))
    for i, subset in enumerate(spec.get("subsets") or []):
        if isinstance(subset, Mapping):
            yield from from_policy(f"spec.subsets[{i}].trafficPolicy", subset.get("trafficPolicy"))


def _check_consecutive_errors(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for obj in inv.objects:
        if obj.get("kind") != "DestinationRule":
            continue
        for path, od in outlier_detections(obj.get("spec") or {}):
            if "consecutiveErrors" in od:
                yield DEP_FIELD.report(
                    obj, f"{path}.consecutiveErrors is deprecated: use consecutive5xxErrors "
                    "(or consecutiveGatewayErrors)",
                )


def _check_kustomize_fields(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for kust in inv.kustomizations:
        for old, new in DEPRECATED_KUSTOMIZE_FIELDS.items():
            if old in kust:
                yield DEP_KUSTOMIZE.report(kust, f"{old} is deprecated in kustomize v5: use {new}")


DEP_API = Rule(
    "DEP001", Severity.WARNING, "deprecated API version", _check_api_versions,
    doc=(
        "An object uses an API version that is deprecated (Istio v1alpha3/v1beta1, autoscaling v1 and "
        "v2beta*, policy/v1beta1) and will stop being served.\n\nFix: the version the message names."
    ),
    upstream="kube-score stable-version; kube-linter no-extensions-v1beta (Kubernetes APIs only).",
)
DEP_FIELD = Rule(
    "DEP002", Severity.WARNING, "deprecated field (Istio outlierDetection consecutiveErrors)",
    _check_consecutive_errors,
    doc=(
        "Istio's `outlierDetection.consecutiveErrors` is deprecated; it is read as "
        "consecutiveGatewayErrors semantics only in old releases.\n\n"
        "Fix: `consecutive5xxErrors` (or `consecutiveGatewayErrors`)."
    ),
    upstream="none (neither tool reads Istio objects).",
)
DEP_KUSTOMIZE = Rule(
    "DEP003", Severity.WARNING,
    "deprecated kustomization field (patchesStrategicMerge, patchesJson6902, bases, commonLabels)",
    _check_kustomize_fields,
    doc=(
        "kustomize v5 deprecates these fields; `kustomize edit fix` rewrites them.\n\n"
        "Fix: `patches`, `resources`, `labels`."
    ),
    upstream="none (neither tool reads kustomization files).",
)

RULES = (DEP_API, DEP_FIELD, DEP_KUSTOMIZE)
