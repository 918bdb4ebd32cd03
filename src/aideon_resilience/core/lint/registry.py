"""Every lint rule, in report order, and the function that runs them."""

from __future__ import annotations

from collections.abc import Iterable

from aideon_resilience.core.lint import affinity, deprecation, hpa, network, pdb, workload
from aideon_resilience.core.lint.model import Finding, Inventory, KubeObject, LintContext, Severity
from aideon_resilience.core.lint.rule import Rule

RULES: tuple[Rule, ...] = (
    *pdb.RULES,
    *hpa.RULES,
    *affinity.RULES,
    *workload.RULES,
    *network.RULES,
    *deprecation.RULES,
)

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1}


def rule(code: str) -> Rule:
    for r in RULES:
        if r.code == code:
            return r
    raise KeyError(code)


def lint(objects: Iterable[KubeObject], context: LintContext) -> list[Finding]:
    """Run every rule over the objects; errors first, then by code and object."""
    inv = Inventory.from_objects(objects)
    findings = [f for r in RULES for f in r.check(inv, context)]
    return sorted(
        findings,
        key=lambda f: (
            _SEVERITY_ORDER[f.severity], f.code, f.object.kind, f.object.namespace or "", f.object.name
        ),
    )
