"""PodDisruptionBudget rules: budgets that block every drain, budgets that protect nothing."""

from __future__ import annotations

from collections.abc import Iterator

from aideon_resilience.core.lint.model import (
    Finding,
    Inventory,
    LintContext,
    Severity,
    scaled_int_or_percent,
)
from aideon_resilience.core.lint.rule import Rule


def _allowed_disruptions(spec: dict[str, object], expected: int) -> int | None:
    """Evictions the budget allows with `expected` healthy pods; None if the budget is unreadable."""
    if spec.get("maxUnavailable") is not None:
        value = spec["maxUnavailable"]
        if not isinstance(value, int | str):
            return None
        return scaled_int_or_percent(value, expected)
    if spec.get("minAvailable") is not None:
        value = spec["minAvailable"]
        if not isinstance(value, int | str):
            return None
        return expected - scaled_int_or_percent(value, expected)
    return None


def _check_never_disrupts(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for pdb in inv.pdbs:
        workloads = inv.selected_workloads(pdb)
        mins = [wl.min_replicas for wl in workloads]
        if not workloads or any(m is None for m in mins):
            continue  # PDB002 reports empty selections; DaemonSets/Jobs have no replica floor here
        expected = sum(m for m in mins if m is not None)
        spec = dict(pdb.get("spec") or {})
        allowed = _allowed_disruptions(spec, expected)
        if allowed is None or allowed > 0:
            continue
        budget = (
            f"maxUnavailable {spec['maxUnavailable']}"
            if spec.get("maxUnavailable") is not None
            else f"minAvailable {spec.get('minAvailable')}"
        )
        names = ", ".join(f"{wl.kind}/{wl.name}" for wl in workloads)
        yield PDB_NEVER_DISRUPTS.report(
            pdb,
            f"{budget} allows no disruption at the minimum of {expected} replica(s) of {names}: "
            "a node drain would block forever (use maxUnavailable: 1 or a minAvailable below the minimum)",
        )


def _check_selects_nothing(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for pdb in inv.pdbs:
        if not inv.selected_workloads(pdb):
            yield PDB_SELECTS_NOTHING.report(
                pdb,
                "selector matches no workload's pod template in this namespace: the budget protects nothing",
            )


PDB_NEVER_DISRUPTS = Rule(
    "PDB001", Severity.ERROR, "PDB can never allow a disruption at the workload's minimum replicas",
    _check_never_disrupts,
)
PDB_SELECTS_NOTHING = Rule("PDB002", Severity.ERROR, "PDB selects no workload", _check_selects_nothing)

RULES = (PDB_NEVER_DISRUPTS, PDB_SELECTS_NOTHING)
