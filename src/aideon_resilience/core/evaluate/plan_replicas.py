"""`plan_replicas`: the HPAs keep up with the capacity plan for the rehearsal's modelled users.

The rehearsal records, whenever its modelled users change, what the plan needs of every
workload (`modelled_load` samples). Each HPA-scaled workload matched by the SLO must, at every
sample, carry at least what the plan needed `within_s` earlier (less the HPA controller's own
tolerance: it does not scale while usage is within it of the target), and never more than its
maximum. A plan need above the HPA's maximum fails by name: the manifests cannot reach the load.
"""

from __future__ import annotations

import math

from aideon_resilience.core.evaluate._common import Check, RunData, combine, limit_items, state_at
from aideon_resilience.core.evaluate.slo import PlanReplicasSlo
from aideon_resilience.core.evaluate.verdict import Figure, SloResult, Status
from aideon_resilience.core.evidence.timeline import ModelledLoadSample, WorkloadSample, matches


def lowest_acceptable(needed: int, tolerance: float) -> int:
    """The fewest replicas at which the HPA, given the plan's need, may rightly stop scaling up."""
    return max(1, math.floor(needed / (1 + tolerance)))


def need_at(modelled: list[ModelledLoadSample], t: float, name: str) -> tuple[int, int] | None:
    """(needed replicas of `name`, modelled users) in force at `t`."""
    at = state_at(modelled, t)
    if at is None or name not in at.needed:
        return None
    return at.needed[name], at.users


def _workload(key: str, samples: list[WorkloadSample], modelled: list[ModelledLoadSample],
              slo: PlanReplicasSlo, data: RunData) -> Check:
    name = key.rsplit("/", 1)[-1]
    hpa_max = max((s.hpa_max for s in samples if s.hpa_max is not None), default=None)
    peak_need = max((m.needed.get(name, 0) for m in modelled), default=0)
    peak_users = max((m.users for m in modelled if m.needed.get(name, 0) == peak_need), default=0)
    figures = {f"{key} peak replicas": Figure(value=max(s.hpa_current or s.replicas for s in samples),
                                              limit=peak_need, better="higher")}
    if hpa_max is not None and peak_need > hpa_max:
        return Check(Status.FAIL, f"{key}: the plan needs {peak_need} replicas at {peak_users:,} modelled users, "
                     f"its HPA maximum is {hpa_max}", figures=figures)
    above = [s for s in samples if s.hpa_max is not None and (s.hpa_current or 0) > s.hpa_max]
    if above:
        return Check(Status.FAIL, f"{key}: {above[0].hpa_current} replicas at {data.rel(above[0].t)}, "
                     f"above its maximum {above[0].hpa_max}", figures=figures)
    short: list[tuple[WorkloadSample, int, int]] = []
    first_need = modelled[0].t
    for s in samples:
        if s.t < first_need + slo.within_s:
            continue
        need = need_at(modelled, s.t - slo.within_s, name)
        if need is None:
            continue
        want = lowest_acceptable(need[0], slo.tolerance)
        if hpa_max is not None:
            want = min(want, hpa_max)
        have = s.hpa_current if s.hpa_current is not None else s.replicas
        if have < want:
            short.append((s, have, want))
    if short:
        worst = max(short, key=lambda x: x[2] - x[1])
        s, have, want = worst
        return Check(
            Status.FAIL,
            f"{key}: {have} replicas at {data.rel(s.t)}, the plan needed at least {want} "
            f"{slo.within_s:g}s earlier (short by {want - have})",
            figures=figures,
            items=limit_items([f"{data.rel(x.t)}: {h} of {w}" for x, h, w in short], 10),
        )
    return Check(Status.PASS, f"{key}: kept up with the plan within {slo.within_s:g}s "
                 f"(peak need {peak_need} at {peak_users:,} modelled users)", figures=figures)


def evaluate_plan_replicas(slo: PlanReplicasSlo, data: RunData, warn_ratio: float) -> SloResult:
    tl = data.timeline
    checks: list[Check] = []
    if tl is None or not tl.modelled:
        checks.append(Check(Status.INCONCLUSIVE, "no modelled load recorded (not a rehearsal, or it never started)"))
    else:
        names = {n for m in tl.modelled for n in m.needed}
        series = {k: v for k, v in tl.workload_series().items()
                  if matches(k, slo.workloads) and k.rsplit("/", 1)[-1] in names
                  and any(s.hpa_max is not None for s in v)}
        if not series:
            checks.append(Check(Status.INCONCLUSIVE, f"no HPA-scaled workload matches {', '.join(slo.workloads)}"))
        for key, samples in sorted(series.items()):
            checks.append(_workload(key, samples, tl.modelled, slo, data))
    return combine(slo.id, slo.family, slo.weight, slo.description, checks)
