"""HorizontalPodAutoscaler rules: missing targets and impossible bounds."""

from __future__ import annotations

from collections.abc import Iterator

from aideon_resilience.core.lint.model import Finding, Inventory, LintContext, Severity
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


HPA_NO_TARGET = Rule("HPA001", Severity.ERROR, "HPA scaleTargetRef does not exist", _check_target)
HPA_BOUNDS = Rule("HPA002", Severity.ERROR, "HPA minReplicas above maxReplicas", _check_bounds)

HPA_REPLICAS_SET = Rule(
    "HPA003", Severity.WARNING, "workload scaled by an HPA also sets spec.replicas", _check_replicas_owner
)

RULES = (HPA_NO_TARGET, HPA_BOUNDS, HPA_REPLICAS_SET)
