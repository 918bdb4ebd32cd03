"""HorizontalPodAutoscaler rules: missing targets, impossible bounds, utilization without requests."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aideon_resilience.core.lint.model import Finding, Inventory, KubeObject, LintContext, Severity
from aideon_resilience.core.lint.rule import Rule


def _check_target(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for hpa in inv.hpas:
        target = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if inv.hpa_target(hpa) is None:
            yield HPA_NO_TARGET.report(
                hpa,
                f"scaleTargetRef {target.get('kind', '?')}/{target.get('name', '?')} does not exist "
                "in this namespace: nothing is autoscaled",
            )


def _check_bounds(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for hpa in inv.hpas:
        spec = hpa.get("spec") or {}
        low, high = int(spec.get("minReplicas", 1)), spec.get("maxReplicas")
        if high is not None and low > int(high):
            yield HPA_BOUNDS.report(hpa, f"minReplicas {low} is above maxReplicas {high}")


def _check_replicas_owner(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for hpa in inv.hpas:
        target = inv.hpa_target(hpa)
        if target is not None and "replicas" in (target.obj.get("spec") or {}):
            name = (hpa.get("metadata") or {}).get("name")
            yield HPA_REPLICAS_SET.report(
                target.obj,
                f"sets spec.replicas while HPA {name} scales it: every apply resets the HPA's decision "
                "(leave replicas out of the manifest)",
            )


def utilization_metrics(hpa: KubeObject) -> Iterator[tuple[str, str | None]]:
    """(resource, container or None) of every utilization target of an HPA; autoscaling/v2 without
    metrics defaults to 80% CPU, autoscaling/v1 has only targetCPUUtilizationPercentage."""
    spec = hpa.get("spec") or {}
    if str(hpa.get("apiVersion")) == "autoscaling/v1":
        yield "cpu", None
        return
    metrics = spec.get("metrics")
    if not metrics:
        yield "cpu", None
        return
    for metric in metrics:
        if not isinstance(metric, Mapping):
            continue
        kind = metric.get("type")
        body: Mapping[str, Any] = metric.get("resource" if kind == "Resource" else "containerResource") or {}
        if kind not in ("Resource", "ContainerResource"):
            continue
        target = body.get("target") or {}
        if target.get("type") == "Utilization" or "targetAverageUtilization" in body:
            yield str(body.get("name")), (str(body.get("container")) if kind == "ContainerResource" else None)


def _check_utilization_requests(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for hpa in inv.hpas:
        wl = inv.hpa_target(hpa)
        if wl is None:
            continue
        for resource, only in utilization_metrics(hpa):
            missing = [
                str(c.get("name")) for c in wl.containers
                if (only is None or c.get("name") == only)
                and resource not in ((c.get("resources") or {}).get("requests") or {})
            ]
            if missing:
                yield HPA_NO_REQUEST.report(
                    hpa,
                    f"scales {wl.display} on {resource} utilization but container(s) {', '.join(missing)} "
                    f"have no {resource} request: the HPA cannot compute utilization and never scales",
                )


HPA_NO_TARGET = Rule(
    "HPA001", Severity.ERROR, "HPA scaleTargetRef does not exist", _check_target,
    doc=(
        "The HPA names a workload that is not among the linted objects in its namespace: nothing is "
        "autoscaled, and the lint's replica arithmetic falls back to spec.replicas.\n\n"
        "Fix: make scaleTargetRef's kind and name those of the workload."
    ),
    upstream="kube-score horizontalpodautoscaler-has-target; kube-linter dangling-horizontalpodautoscaler "
    "(opt-in).",
)
HPA_BOUNDS = Rule(
    "HPA002", Severity.ERROR, "HPA minReplicas above maxReplicas", _check_bounds,
    doc=(
        "The API server rejects an HPA whose minReplicas is above maxReplicas; usually an overlay patched "
        "one bound and not the other.\n\nFix: make minReplicas at most maxReplicas."
    ),
    upstream="none (both tools leave it to schema validation).",
)
HPA_REPLICAS_SET = Rule(
    "HPA003", Severity.WARNING, "workload scaled by an HPA also sets spec.replicas", _check_replicas_owner,
    doc=(
        "Every apply of the manifest resets the replica count the HPA chose, for example to 3 in the "
        "middle of a peak at 20.\n\nFix: leave spec.replicas out of workloads an HPA scales."
    ),
    upstream="kube-score deployment-targeted-by-hpa-does-not-have-replicas-configured.",
)
HPA_NO_REQUEST = Rule(
    "HPA004", Severity.ERROR, "HPA scales on utilization of a resource the containers do not request",
    _check_utilization_requests,
    doc=(
        "Utilization is usage divided by request. An HPA with a Resource (or ContainerResource) metric on "
        "cpu or memory with a Utilization target, including the implicit 80% CPU of an HPA without "
        "metrics, cannot compute it when a container lacks that request: it reports "
        "FailedGetResourceMetric and never scales.\n\n"
        "Fix: a request for the metric's resource on every container (or the named container)."
    ),
    upstream="none: both tools check requests per container, not against the HPA's metrics.",
)

RULES = (HPA_NO_TARGET, HPA_BOUNDS, HPA_REPLICAS_SET, HPA_NO_REQUEST)
