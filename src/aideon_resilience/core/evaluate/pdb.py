"""PDB SLOs: healthy pods never below the budget's minimum; drains finish within T.

Time below the minimum is summed per PDB (step series until the end of the run): none passes;
up to `max_breach_s` is within the limit (graded with the warn margin); more fails. Drains are
the chaos actions whose name matches `drain_activity`; a failed drain fails the SLO, and the
eviction refusals recorded during it are listed with the budgets that refused them.
"""

from __future__ import annotations

from aideon_resilience.core.evaluate._common import Check, RunData, combine, limit_items
from aideon_resilience.core.evaluate.slo import PdbSlo
from aideon_resilience.core.evaluate.verdict import Figure, SloResult, Status, grade_max, worst
from aideon_resilience.core.evidence.timeline import PdbSample, Timeline, matches


def evaluate_pdb(slo: PdbSlo, data: RunData, warn_ratio: float) -> SloResult:
    def done(checks: list[Check]) -> SloResult:
        return combine(slo.id, "pdb", slo.weight, slo.description, checks)

    tl = data.timeline
    if tl is None:
        return done([Check(Status.INCONCLUSIVE, "no timeline file")])
    series = {k: v for k, v in tl.pdb_series().items() if matches(k, slo.pdbs)}
    checks: list[Check] = []
    if not series:
        checks.append(Check(Status.INCONCLUSIVE, f"no PDB sample matching {', '.join(slo.pdbs)}"))
    end = data.data_end()
    for key, samples in sorted(series.items()):
        checks.append(_healthy(key, samples, end, slo.max_breach_s, data, warn_ratio))
    refusals = [r for r in tl.refusals if r.pdb is None or matches(f"{r.namespace}/{r.pdb}", slo.pdbs)]
    refusal_items = [
        f"eviction refused {data.rel(r.t)}: pod {r.namespace}/{r.pod}"
        + (f" by PDB {r.pdb}" if r.pdb else "")
        + (f" on node {r.node}" if r.node else "")
        for r in refusals
    ]
    if slo.drain_within_s is not None:
        checks.append(_drains(slo, slo.drain_within_s, tl, data, warn_ratio))
    if checks:
        checks[-1].items.extend(limit_items(refusal_items))
        checks[-1].figures["evictions_refused"] = Figure(value=len(refusals))
    return done(checks)


def _healthy(
    key: str, samples: list[PdbSample], end: float, max_breach: float, data: RunData, warn_ratio: float
) -> Check:
    breach = 0.0
    first: PdbSample | None = None
    lowest = min(samples, key=lambda s: s.current_healthy - s.desired_healthy)
    for i, s in enumerate(samples):
        if s.current_healthy < s.desired_healthy:
            until = samples[i + 1].t if i + 1 < len(samples) else max(end, s.t)
            breach += until - s.t
            first = first or s
    figures = {f"{key} below_min_s": Figure(value=breach, limit=max_breach, unit="s")}
    if first is None:
        return Check(
            Status.PASS,
            f"{key}: healthy never below minimum (lowest {lowest.current_healthy}/{lowest.desired_healthy})",
            figures=figures,
        )
    status = Status.FAIL if max_breach == 0 else grade_max(breach, max_breach, warn_ratio)
    if status is Status.PASS:
        status = Status.WARN  # a breach is never a clean pass
    return Check(
        status,
        f"{key}: healthy below minimum for {breach:.0f} s (first at {data.rel(first.t)}: "
        f"{first.current_healthy}/{first.desired_healthy}; allowed {max_breach:.0f} s)",
        figures=figures,
    )


def _drains(slo: PdbSlo, within: float, tl: Timeline, data: RunData, warn_ratio: float) -> Check:
    drains = tl.activities(pattern=slo.drain_activity)
    if not drains:
        return Check(Status.INCONCLUSIVE, f"no drain action ({slo.drain_activity}) in the timeline")
    items: list[str] = []
    statuses: list[Status] = []
    longest = 0.0
    failed = []
    for d in drains:
        took = d.end - d.start
        longest = max(longest, took)
        refused_by = sorted(
            {r.pdb or "?" for r in tl.refusals if d.start <= r.t <= d.end}
        )
        note = f" (refused by {', '.join(refused_by)})" if refused_by else ""
        items.append(
            f"drain {d.activity} in {d.experiment}: {d.status} after {took:.0f} s "
            f"at {data.rel(d.start)}{note}"
        )
        if d.status == "failed":
            statuses.append(Status.FAIL)
            failed.append(f"{d.activity} in {d.experiment}{note}")
        else:
            statuses.append(grade_max(took, within, warn_ratio))
    figures = {"longest_drain_s": Figure(value=longest, limit=within, unit="s")}
    if failed:
        return Check(Status.FAIL, f"drain failed: {'; '.join(failed)}", figures=figures, items=items)
    status = worst(statuses)
    return Check(
        status,
        f"{len(drains)} drain(s), longest {longest:.0f} s (limit {within:.0f} s)",
        figures=figures,
        items=items,
    )
