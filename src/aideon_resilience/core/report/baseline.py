"""Regressions against an earlier run (its `verdict.json`).

A regression is an SLO whose status got worse (pass < warn < inconclusive < fail), an SLO of the
baseline missing from this run, or a key figure worse by more than `tolerance` (default 10 %)
of the larger of the baseline value and the figure's limit (so a change from 0 to a value far
under the limit is not flagged). Regressions are reported; they do not change the verdict.
"""

from __future__ import annotations

from pathlib import Path

from aideon_resilience.core.evaluate.verdict import SEVERITY, Regression, Verdict, read_verdict
from aideon_resilience.core.report.rundir import VERDICT_FILE

DEFAULT_TOLERANCE = 0.10


def compare_verdicts(current: Verdict, baseline: Verdict, tolerance: float = DEFAULT_TOLERANCE) -> list[Regression]:
    out: list[Regression] = []
    now = {r.id: r for r in current.slos}
    for old in baseline.slos:
        new = now.get(old.id)
        if new is None:
            out.append(Regression(slo_id=old.id, kind="missing", message="SLO no longer evaluated"))
            continue
        if SEVERITY[new.status] > SEVERITY[old.status]:
            out.append(
                Regression(
                    slo_id=old.id,
                    kind="status",
                    message=f"status {old.status.value} → {new.status.value}: {new.message}",
                    baseline=old.status.value,
                    current=new.status.value,
                )
            )
        for name, before in old.evidence.figures.items():
            after = new.evidence.figures.get(name)
            if after is None:
                continue
            worse = after.value - before.value if before.better == "lower" else before.value - after.value
            scale = max(abs(before.value), abs(before.limit or 0.0), abs(after.limit or 0.0))
            if scale > 0 and worse > tolerance * scale:
                unit = f" {after.unit}" if after.unit else ""
                out.append(
                    Regression(
                        slo_id=old.id,
                        kind="figure",
                        figure=name,
                        baseline=before.value,
                        current=after.value,
                        message=f"{name} {before.value:.4g} → {after.value:.4g}{unit}"
                        f" (worse by more than {tolerance:.0%})",
                    )
                )
    return out


def compare(current: Verdict, baseline_run_dir: Path, tolerance: float = DEFAULT_TOLERANCE) -> list[Regression]:
    """Regressions of `current` against the run in `baseline_run_dir` (its verdict.json)."""
    return compare_verdicts(current, read_verdict(baseline_run_dir / VERDICT_FILE), tolerance)
