"""Outlier-detection SLOs: the client error ratio is back under X within T of a backend failing,
and the proxy ejected a backend.

The backend starts failing at the first action of the outlier experiment whose name matches
`failing_activity` (the experiment's first action, else its start, when none matches). Recovery
is the end of the first `Aggregated` window after that from which every window up to the end of
the experiment stays at or under X. An ejection is a `down` event of a matching service between
the failure and `within_s` after the experiment ends.
"""

from __future__ import annotations

from aideon_resilience.core.evaluate._common import Check, RunData, combine, find_scenario
from aideon_resilience.core.evaluate.slo import OutlierSlo
from aideon_resilience.core.evaluate.verdict import Figure, SloResult, Status, grade_max
from aideon_resilience.core.evidence.timeline import matches


def _error_ratio_check(slo: OutlierSlo, data: RunData, warn_ratio: float, fail_at: float, horizon: float,
                       what: str) -> Check:
    """The first window after the failure from which every window stays at or under X, within T."""
    windows = [w for w in data.aggregated() if w.end > fail_at and w.start < horizon and w.requests > 0]
    if data.windows is None:
        return Check(Status.INCONCLUSIVE, "no Locust windows file")
    if not windows:
        return Check(Status.INCONCLUSIVE, f"no Locust window after the backend failed ({what})")
    recovered = next((w.end for i, w in enumerate(windows)
                      if all(x.error_ratio <= slo.max_error_ratio for x in windows[i:])), None)
    peak = max(w.error_ratio for w in windows)
    items = [f"backend failing from {what}; peak window error ratio {peak:.4f}"]
    if recovered is None:
        return Check(
            Status.FAIL,
            f"error ratio not back under {slo.max_error_ratio} by {data.rel(horizon)} "
            f"(last window {windows[-1].error_ratio:.4f})",
            items=items,
        )
    took = max(0.0, recovered - fail_at)
    return Check(
        grade_max(took, slo.within_s, warn_ratio),
        f"error ratio back under {slo.max_error_ratio} {took:.0f} s after the backend failed "
        f"(limit {slo.within_s:.0f} s)",
        figures={"outlier_recovery_s": Figure(value=took, limit=slo.within_s, unit="s")},
        items=items,
    )


def _ejection_check(slo: OutlierSlo, data: RunData, fail_at: float, until: float) -> Check:
    """A `down` event of a matching service between the failure and `until`."""
    assert data.timeline is not None
    ejections = [
        e
        for e in data.timeline.ejections
        if e.state == "down" and matches(e.service, slo.services) and fail_at - 1 <= e.t <= until
    ]
    if not ejections:
        return Check(Status.FAIL, f"no ejection observed between {data.rel(fail_at)} and {data.rel(until)}")
    e = ejections[0]
    return Check(
        Status.PASS,
        f"ejection of {e.backend} ({e.service}) {e.t - fail_at:.0f} s after the backend failed",
        items=[f"ejected {x.backend} ({x.service}) at {data.rel(x.t)}" for x in ejections[:10]],
    )


def evaluate_outlier(slo: OutlierSlo, data: RunData, warn_ratio: float) -> SloResult:
    def done(checks: list[Check]) -> SloResult:
        return combine(slo.id, "outlier", slo.weight, slo.description, checks)

    found = find_scenario(data, slo.experiment)
    if isinstance(found, Check):
        return done([found])
    tl, exp = found.timeline, found.experiment
    acts = tl.activities(exp.experiment, slo.failing_activity) or tl.activities(exp.experiment)
    fail_at = acts[0].start if acts else exp.start
    what = f"{acts[0].activity} at {data.rel(fail_at)}" if acts else f"experiment start {data.rel(fail_at)}"
    checks = [_error_ratio_check(slo, data, warn_ratio, fail_at, max(exp.end, fail_at + slo.within_s), what)]
    if slo.require_ejection:
        checks.append(_ejection_check(slo, data, fail_at, exp.end + slo.within_s))
    return done(checks)
