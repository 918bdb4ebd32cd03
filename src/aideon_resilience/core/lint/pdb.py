"""PodDisruptionBudget rules: budgets that block every drain, budgets that protect nothing, workloads
without a budget, and rollouts that take down more replicas than the budget intends."""

from __future__ import annotations

from collections.abc import Iterator

from aideon_resilience.core.lint.model import (
    Finding,
    Inventory,
    KubeObject,
    LintContext,
    Severity,
    Workload,
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


def allowed_disruptions(pdb: KubeObject, expected: int) -> int | None:
    """Evictions a PDB allows with `expected` healthy pods (None when the budget is unreadable)."""
    return _allowed_disruptions(dict(pdb.get("spec") or {}), expected)


def budget_text(pdb: KubeObject) -> str:
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        return f"maxUnavailable {spec['maxUnavailable']}"
    return f"minAvailable {spec.get('minAvailable')}"


def _pdb_name(pdb: KubeObject) -> str:
    return f"PodDisruptionBudget/{(pdb.get('metadata') or {}).get('name')}"


def _check_missing(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for wl in inv.workloads:
        if wl.kind not in ("Deployment", "StatefulSet") or (wl.max_replicas or 0) < 2:
            continue
        if not inv.pdbs_for(wl):
            yield PDB_MISSING.report(
                wl.obj,
                f"runs up to {wl.max_replicas} replicas and no PodDisruptionBudget selects its pods: "
                "a node drain or cluster upgrade may evict all of them at once",
            )


def _scales(wl: Workload) -> list[int]:
    return sorted({r for r in (wl.min_replicas, wl.max_replicas) if r is not None})


def _check_allows_all(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for pdb in inv.pdbs:
        workloads = inv.selected_workloads(pdb)
        if len(workloads) != 1:
            continue  # a budget over several workloads can protect each of them only in sum
        (wl,) = workloads
        for replicas in _scales(wl):
            allowed = allowed_disruptions(pdb, replicas)
            if replicas >= 2 and allowed is not None and allowed >= replicas:
                yield PDB_ALLOWS_ALL.report(
                    pdb,
                    f"{budget_text(pdb)} allows all {replicas} replicas of {wl.display} to be evicted at once: "
                    "the budget protects nothing (use maxUnavailable: 1 or a minAvailable of at least 1)",
                )
                break


def rollout_unavailable(wl: Workload, replicas: int) -> int | None:
    """Replicas a Deployment's rollout may take down at once (maxUnavailable rounds down)."""
    strategy = (wl.obj.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return replicas
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return int(value[:-1]) * replicas // 100 if value[:-1].isdigit() else None
    return int(value) if isinstance(value, int) else None


def _check_rollout_exceeds(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for wl in inv.workloads:
        if wl.kind != "Deployment":
            continue
        for pdb in inv.pdbs_for(wl):
            if len(inv.selected_workloads(pdb)) != 1:
                continue
            for replicas in _scales(wl):
                down, allowed = rollout_unavailable(wl, replicas), allowed_disruptions(pdb, replicas)
                if down is None or allowed is None or down <= max(allowed, 0) or replicas < 2:
                    continue
                yield PDB_ROLLOUT_EXCEEDS.report(
                    wl.obj,
                    f"at {replicas} replicas a rollout takes down up to {down} at once but "
                    f"{_pdb_name(pdb)} ({budget_text(pdb)}) allows {max(allowed, 0)}: "
                    "rollouts ignore the budget (set strategy.rollingUpdate.maxUnavailable within it)",
                )
                break


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
    doc=(
        "The budget is computed at the replica count the workload runs at its lowest (the HPA's "
        "minReplicas, else spec.replicas). When it allows no eviction there (minAvailable equal to or "
        "above the minimum, maxUnavailable 0), `kubectl drain`, cluster upgrades and node "
        "autoscalers wait forever on a node holding one of its pods.\n\n"
        "Fix: `maxUnavailable: 1`, or a minAvailable below the minimum replica count."
    ),
    upstream="kube-linter pdb-min-available and pdb-max-unavailable (against spec.replicas only; we use "
    "the HPA minimum). kube-score has no equivalent.",
)
PDB_SELECTS_NOTHING = Rule(
    "PDB002", Severity.ERROR, "PDB selects no workload", _check_selects_nothing,
    doc=(
        "The selector matches no pod template of a Deployment, StatefulSet, DaemonSet, ReplicaSet or Job "
        "in the PDB's namespace, usually after a label was renamed. The workload it was meant for is "
        "unprotected.\n\nFix: make `spec.selector` match the pod template labels."
    ),
    upstream="kube-score checks the reverse (deployment-has-poddisruptionbudget); kube-linter has no "
    "dangling-PDB check.",
)
PDB_MISSING = Rule(
    "PDB003", Severity.ERROR, "multi-replica Deployment or StatefulSet without a PodDisruptionBudget",
    _check_missing,
    doc=(
        "A workload that runs two or more replicas (at its HPA maximum or spec.replicas) has no PDB "
        "selecting its pods. Voluntary disruptions (drains, upgrades, node autoscaler scale-down) then "
        "evict every replica a node holds, and several nodes at once, without waiting for replacements "
        "to become ready.\n\nFix: add a PodDisruptionBudget with `maxUnavailable: 1` selecting the pods."
    ),
    upstream="kube-score deployment-has-poddisruptionbudget and statefulset-has-poddisruptionbudget "
    "(critical, skipped below 2 replicas). kube-linter has no equivalent.",
)
PDB_ALLOWS_ALL = Rule(
    "PDB004", Severity.ERROR, "PDB allows every replica to be evicted at once", _check_allows_all,
    doc=(
        "At the workload's minimum or maximum replica count the budget allows as many evictions as there "
        "are replicas (`minAvailable: 0`, `maxUnavailable: 100%`, a maxUnavailable at or above the "
        "replica count): a drain may take the whole service down. Budgets selecting several workloads "
        "are left out (they protect only the sum).\n\n"
        "Fix: `maxUnavailable: 1` (or a percentage below 100), or a minAvailable of at least 1."
    ),
    upstream="none: kube-score's poddisruptionbudget-has-policy only checks that a policy is set.",
)
PDB_ROLLOUT_EXCEEDS = Rule(
    "PDB005", Severity.WARNING, "Deployment rollout takes down more replicas than its PDB allows",
    _check_rollout_exceeds,
    doc=(
        "A rolling update is not a voluntary disruption: the budget does not limit it. When "
        "`strategy.rollingUpdate.maxUnavailable` (default 25%, rounded down) or a Recreate strategy takes "
        "down more replicas at the minimum or maximum scale than the PDB allows, every release does "
        "what the budget says must not happen, and a drain during a release adds to it.\n\n"
        "Fix: set maxUnavailable within the budget (0 with a maxSurge, or the PDB's allowance)."
    ),
    upstream="none (kube-score deployment-strategy only requires RollingUpdate for Deployments behind a "
    "Service; kube-linter no-rolling-update-strategy is opt-in).",
)

RULES = (PDB_NEVER_DISRUPTS, PDB_SELECTS_NOTHING, PDB_MISSING, PDB_ALLOWS_ALL, PDB_ROLLOUT_EXCEEDS)
