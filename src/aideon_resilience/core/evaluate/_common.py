"""What every SLO family evaluator shares: the run's data and small helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from aideon_resilience.core.evaluate.verdict import SEVERITY, Evidence, Figure, SloResult, Status, worst
from aideon_resilience.core.evidence.loadstats import AGGREGATED, WindowStat
from aideon_resilience.core.evidence.timeline import Timeline


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
