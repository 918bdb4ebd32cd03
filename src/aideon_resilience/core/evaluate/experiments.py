"""Experiments SLOs: every experiment of the suite held its own steady-state hypothesis.

An experiment's hypothesis (before and after its method) is part of the verdict, so a report can
never show a deviated experiment beside a pass. The evidence is each journal's summary in the
timeline (`kind: experiment`, with `held` and the reasons it did not hold). A named experiment
(a pattern without wildcards) that left no journal is inconclusive, never a pass.
"""

from __future__ import annotations

from aideon_resilience.core.evaluate._common import Check, RunData, combine
from aideon_resilience.core.evaluate.slo import ExperimentsSlo
from aideon_resilience.core.evaluate.verdict import SloResult, Status
from aideon_resilience.core.evidence.timeline import ExperimentEvent, matches

_WILDCARDS = frozenset("*?[")


def _held(event: ExperimentEvent) -> bool:
    if event.held is not None:
        return event.held
    return event.status == "completed" and not event.deviated  # a timeline from before `held`


def _check(event: ExperimentEvent, data: RunData) -> Check:
    if _held(event):
        return Check(Status.PASS, f"{event.experiment}: held its steady-state hypothesis")
    reasons = event.reasons or ([f"run {event.status}"] if event.status != "completed" else ["deviated"])
    return Check(
        Status.FAIL,
        f"{event.experiment}: did not hold ({'; '.join(reasons)})",
        items=[f"{event.experiment} ran {data.rel(event.start)} to {data.rel(event.end)}"],
    )


def evaluate_experiments(slo: ExperimentsSlo, data: RunData, warn_ratio: float) -> SloResult:
    def done(checks: list[Check]) -> SloResult:
        return combine(slo.id, "experiments", slo.weight, slo.description, checks)

    tl = data.timeline
    if tl is None:
        return done([Check(Status.INCONCLUSIVE, "no timeline file")])
    events = [e for e in tl.experiments if matches(e.experiment, slo.experiments)]
    checks = [_check(e, data) for e in sorted(events, key=lambda e: e.start)]
    ran = {e.experiment for e in events}
    for name in slo.experiments:
        if not _WILDCARDS & set(name) and name not in ran:
            checks.append(Check(Status.INCONCLUSIVE, f"{name}: no journal (the experiment did not run or was cut)"))
    if not checks:
        checks.append(Check(Status.INCONCLUSIVE, f"no experiment matching {', '.join(slo.experiments)} ran"))
    return done(checks)
