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


HPA_NO_TARGET = Rule("HPA001", Severity.ERROR, "HPA scaleTargetRef does not exist", _check_target)
HPA_BOUNDS = Rule("HPA002", Severity.ERROR, "HPA minReplicas above maxReplicas", _check_bounds)

RULES = (HPA_NO_TARGET, HPA_BOUNDS)
