"""What every SLO family evaluator shares: the run's data and small helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from aideon_resilience.core.evaluate.verdict import SEVERITY, Evidence, Figure, SloResult, Status, grade_max, worst
from aideon_resilience.core.evidence.loadstats import AGGREGATED, WindowStat
from aideon_resilience.core.evidence.timeline import ChaosActivity, ExperimentEvent, Timeline, WorkloadSample, matches


@dataclass
class RunData:
    """Evidence of one run. `None` means the data file is missing: SLOs needing it are inconclusive."""

    windows: list[WindowStat] | None
    timeline: Timeline | None
    t0: float
    t_end: float | None = None
    load_workers: int | None = None  # Locust workers the run started (None: not recorded, 0: one process)
    max_worker_loss: float | None = None  # share of them it may lose before the run is inconclusive
    load_lost_at: float | None = None  # the load (Locust) ended before the suite did: client figures are partial

    def rel(self, t: float) -> str:
        return f"t+{t - self.t0:.1f}s"

    def aggregated(self) -> list[WindowStat]:
        if not self.windows:
            return []
        return sorted((w for w in self.windows if w.endpoint == AGGREGATED), key=lambda w: w.start)

    def merged(self) -> list[WindowStat]:
        """The `Aggregated` windows the master merged completely (every window of a single process)."""
        return [w for w in self.aggregated() if w.merged]

    def data_end(self) -> float:
        """Until when the run was observed: run end if known, else the last data point."""
        ends: list[float] = [self.t0]
        if self.t_end is not None:
            ends.append(self.t_end)
        if self.timeline is not None and (span := self.timeline.span()) is not None:
            ends.append(span[1])
        if self.windows:
            ends.append(max(w.end for w in self.windows))
        return max(ends)


@dataclass
class Check:
    """One sub-check of an SLO (one condition, possibly for one workload)."""

    status: Status
    message: str
    figures: dict[str, Figure] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)


def combine(slo_id: str, family: str, weight: float, description: str, checks: list[Check]) -> SloResult:
    """Worst sub-check wins; the message lists the sub-checks that did not pass (or all if none)."""
    status = worst([c.status for c in checks])
    if not checks:
        checks = [Check(Status.INCONCLUSIVE, "nothing could be checked")]
    ordered = sorted(checks, key=lambda c: -SEVERITY[c.status])
    shown = [c for c in ordered if c.status is not Status.PASS] or ordered
    message = "; ".join(dict.fromkeys(c.message for c in shown))
    figures: dict[str, Figure] = {}
    items: list[str] = []
    for c in checks:
        figures.update(c.figures)
        items.append(f"[{c.status.value}] {c.message}")
        items.extend(c.items)
    return SloResult(
        id=slo_id,
        family=family,
        status=status,
        weight=weight,
        message=message,
        description=description,
        evidence=Evidence(figures=figures, items=items),
    )


class _Timed(Protocol):
    @property
    def t(self) -> float: ...


T = TypeVar("T", bound=_Timed)


def state_at(samples: Sequence[T], t: float) -> T | None:
    """The last sample at or before `t` (samples are sorted and record changes)."""
    found: T | None = None
    for s in samples:
        if s.t > t:
            break
        found = s
    return found


def first_time(samples: Sequence[T], since: float, pred: Callable[[T], bool]) -> tuple[float, T] | None:
    """First time at or after `since` the state satisfies `pred` (step semantics)."""
    at = state_at(samples, since)
    if at is not None and pred(at):
        return since, at
    for s in samples:
        if s.t > since and pred(s):
            return s.t, s
    return None


READY_HOLD_S = 3.0
"""How long readiness must hold to count as a recovery. The local cluster no longer reports a pod
Ready before its process answers (localcluster/kwokstages.py); a real cluster's readiness can still
flap (a probe that passes once between failures), and a flap is not a recovery."""


def first_held(
    samples: Sequence[T], since: float, pred: Callable[[T], bool], hold_s: float = READY_HOLD_S
) -> tuple[float, T] | None:
    """First time at or after `since` the state satisfies `pred` and keeps satisfying it for
    `hold_s` (or to the last sample): a flicker is not a recovery."""
    start = first_time(samples, since, pred)
    while start is not None:
        broken = next((s for s in samples if start[0] < s.t <= start[0] + hold_s and not pred(s)), None)
        if broken is None:
            return start
        start = first_time(samples, broken.t, pred)
    return None


def limit_items(items: list[str], cap: int = 20) -> list[str]:
    if len(items) <= cap:
        return items
    return [*items[:cap], f"... and {len(items) - cap} more"]


@dataclass
class Scenario:
    """An experiment of the run, the timeline it is in and, when asked for, its first matching action."""

    timeline: Timeline
    experiment: ExperimentEvent
    action: ChaosActivity | None = None
    series: dict[str, list[WorkloadSample]] = field(default_factory=dict)


def find_scenario(data: RunData, experiment: str, action: tuple[str, str] | None = None,
                  workloads: list[str] | None = None) -> Scenario | Check:
    """The experiment (with `action` = (pattern, what it is): its first action matching the
    pattern; with `workloads`: the sample series of the matching workloads) or the inconclusive
    check saying which evidence is missing."""
    tl = data.timeline
    if tl is None:
        return Check(Status.INCONCLUSIVE, "no timeline file")
    exp = tl.experiment(experiment)
    if exp is None:
        return Check(Status.INCONCLUSIVE, f"no {experiment} experiment in the timeline")
    if action is None:
        return Scenario(tl, exp)
    pattern, what = action
    found = tl.activities(exp.experiment, pattern)
    if not found:
        return Check(Status.INCONCLUSIVE, f"no {what} action ({pattern}) in {exp.experiment}")
    series = {k: v for k, v in tl.workload_series().items() if matches(k, workloads or [])}
    if workloads is not None and not series:
        return Check(Status.INCONCLUSIVE, f"no workload sample matching {', '.join(workloads)}")
    return Scenario(tl, exp, found[0], series)


def not_reached(data: RunData, deadline: float, failed: str, unfinished: str) -> Check:
    """A condition never met: a failure when the run was observed past `deadline`, else
    inconclusive (the run ended before it could be judged)."""
    if data.data_end() >= deadline:
        return Check(Status.FAIL, failed)
    return Check(Status.INCONCLUSIVE, unfinished)


def timed(took: float, limit: float, warn_ratio: float, message: str, figure: str, items: list[str]) -> Check:
    """A duration graded against its limit, with its figure (seconds)."""
    return Check(grade_max(took, limit, warn_ratio), message,
                 figures={figure: Figure(value=took, limit=limit, unit="s")}, items=items)


def judge_scenario(slo: Any, family: str, data: RunData, action: tuple[str, str],
                   judge: Callable[[Scenario, ChaosActivity], list[Check]]) -> SloResult:
    """An SLO of one experiment's action on some workloads (`slo.experiment`, `slo.workloads`):
    `judge`'s checks (given the scenario and its action), or the one that says which evidence is
    missing."""
    found = find_scenario(data, slo.experiment, action, slo.workloads)
    if isinstance(found, Check):
        checks = [found]
    else:
        assert found.action is not None  # asked for: find_scenario gives it or a Check
        checks = judge(found, found.action)
    return combine(slo.id, family, slo.weight, slo.description, checks)
