"""Every lint rule, in report order, and the function that runs them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from aideon_resilience.core.lint import (
    affinity,
    deprecation,
    feasibility,
    hpa,
    mesh,
    network,
    pdb,
    storage,
    suppress,
    workload,
)
from aideon_resilience.core.lint.model import Finding, Inventory, KubeObject, LintContext, Severity
from aideon_resilience.core.lint.rule import Rule

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1}


def _check_unknown_codes(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    known = {r.code for r in RULES}
    for obj in inv.objects:
        unknown = [c for c in suppress.ignored_codes(obj) if c not in known]
        if unknown:
            yield LNT_UNKNOWN_CODE.report(
                obj, f"{suppress.IGNORE} names unknown rule code(s) {', '.join(unknown)}: they suppress nothing"
            )


LNT_UNKNOWN_CODE = Rule(
    "LNT002", Severity.WARNING, "ignore annotation names an unknown rule code", _check_unknown_codes,
    doc=(
        f"A code in `{suppress.IGNORE}` is not a rule of this lint (a typo, or a rule of another tool). "
        "It suppresses nothing.\n\nFix: the codes `aideon-resilience lint --explain all` lists."
    ),
    upstream="none.",
)

RULES: tuple[Rule, ...] = (
    *pdb.RULES,
    *hpa.RULES,
    *affinity.RULES,
    *workload.RULES,
    *mesh.RULES,
    *storage.RULES,
    *feasibility.RULES,
    *network.RULES,
    *deprecation.RULES,
    *suppress.RULES,
    LNT_UNKNOWN_CODE,
)


def rule(code: str) -> Rule:
    for r in RULES:
        if r.code == code.upper():
            return r
    raise KeyError(code)


def lint(objects: Iterable[KubeObject], context: LintContext, disabled: Iterable[str] = ()) -> list[Finding]:
    """Run every rule over the objects; counted findings first (errors, then warnings), then the
    suppressed ones, each group by code and object. `disabled` codes are reported as suppressed."""
    inv = Inventory.from_objects(objects)
    findings = suppress.apply(
        (f for r in RULES for f in r.check(inv, context)), inv, frozenset(c.upper() for c in disabled)
    )
    return sorted(
        findings,
        key=lambda f: (
            not f.counts, _SEVERITY_ORDER[f.severity], f.code, f.object.kind, f.object.namespace or "",
            f.object.name,
        ),
    )


def analysis_notes(objects: Iterable[KubeObject], context: LintContext) -> list[str]:
    """The drain and zone-loss analyses as text lines (how many nodes drain at once, what fits)."""
    return feasibility.notes(Inventory.from_objects(objects), context)
