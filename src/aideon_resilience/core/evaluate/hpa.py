"""HPA SLOs: scale-out within T of the surge, never above the maximum, back down afterwards.

The surge starts at the start of the surge experiment (`load-surge`). The HPA must raise its
desired count to at least `minReplicas + min_scale_up` during the surge (an HPA whose maximum
leaves no such room fails); ready replicas must then reach the highest desired count seen
(capped at the maximum) within `scale_up_within_s`. Replicas or desired count above the HPA's
maximum at any time fail. With `scale_down_to`, replicas must be at or under that count within
`scale_down_within_s` of the surge experiment's end.

An HPA that could not read its metrics (ScalingActive=False, e.g. metrics-server stopped) may
not be blamed for what it could not see. A maximum that leaves no room to scale fails whatever the
metrics did (it is the HPA's own configuration). Otherwise, blindness of `METRICS_BLIND_S` or more
counts as follows: a scale-up that did not happen is inconclusive when the HPA read its metrics
for less than `METRICS_SIGHT_S` of the surge, and judged (a failure) when it saw more; the blind
seconds are credited to a late scale-up's time; a scale-down that did not happen while the HPA was
blind after the surge is inconclusive, and a late one is credited the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from aideon_resilience.core.evaluate._common import Check, RunData, combine, first_held, first_time, state_at
from aideon_resilience.core.evaluate.slo import HpaSlo
from aideon_resilience.core.evaluate.verdict import Figure, SloResult, Status, grade_max
from aideon_resilience.core.evidence.timeline import WorkloadSample, matches


def evaluate_hpa(slo: HpaSlo, data: RunData, warn_ratio: float) -> SloResult:
    def done(checks: list[Check]) -> SloResult:
        return combine(slo.id, "hpa", slo.weight, slo.description, checks)

    tl = data.timeline
    if tl is None:
        return done([Check(Status.INCONCLUSIVE, "no timeline file")])
    series = {k: v for k, v in tl.workload_series().items() if matches(k, slo.workloads)}
    if not series:
        return done([Check(Status.INCONCLUSIVE, f"no workload sample matching {', '.join(slo.workloads)}")])
    surge = tl.experiment(slo.surge_experiment)
    checks: list[Check] = []
    for key, samples in sorted(series.items()):
        hpa = [s for s in samples if s.hpa_max is not None and s.hpa_min is not None]
        if not hpa:
            checks.append(Check(Status.INCONCLUSIVE, f"{key}: no HPA sampled"))
            continue
        checks.append(_never_above_max(key, hpa, data))
        if surge is None:
            checks.append(Check(Status.INCONCLUSIVE, f"{key}: no {slo.surge_experiment} experiment in the timeline"))
            continue
        during = _blindness(hpa, surge.start, min(surge.end, data.data_end()))
        checks.append(_scale_up(slo, key, hpa, surge.start, surge.end, data, warn_ratio, during))
        if slo.scale_down_to is not None and slo.scale_down_within_s is not None:
            after = _blindness(hpa, surge.end, min(surge.end + slo.scale_down_within_s, data.data_end()))
            checks.append(
                _scale_down(
                    key, samples, surge.end, slo.scale_down_to, slo.scale_down_within_s, data, warn_ratio, after
                )
            )
    return done(checks)


METRICS_BLIND_S = 10.0
"""How long an HPA may go without metrics in a judged stretch before it counts (two of the local
cluster's 5 s HPA syncs; a missed scrape is not a blind HPA)."""

METRICS_SIGHT_S = 30.0
"""How long an HPA must have read its metrics during the surge for a missing scale-up to count
against it (six local HPA syncs, two metrics-server resolutions)."""


@dataclass(frozen=True)
class Blindness:
    """How long the HPA could not read its metrics within [start, end], and from when."""

    seconds: float
    since: float
    reason: str
    stretch: float

    def counts(self) -> bool:
        return self.seconds >= METRICS_BLIND_S

    def credit(self) -> float:
        """Seconds to take off a judged time: the blind ones, when they count."""
        return self.seconds if self.counts() else 0.0

    def aside(self) -> str:
        """What a message adds when the blind seconds count."""
        return f" (blind {self.seconds:.0f} s of the surge)" if self.counts() else ""

    def describe(self, key: str, data: RunData) -> str:
        return (
            f"{key}: the HPA could not read its metrics for {self.seconds:.0f} s from {data.rel(self.since)} "
            f"({self.reason})"
        )


def _blindness(hpa: list[WorkloadSample], start: float, end: float) -> Blindness:
    blind = 0.0
    first: WorkloadSample | None = None
    current = state_at(hpa, start)
    points = [s for s in hpa if start < s.t < end]
    for sample, until in zip([current, *points], [*(s.t for s in points), end], strict=True):
        if sample is not None and sample.hpa_inactive is not None and until > start:
            blind += until - max(sample.t, start)
            first = first or sample
    if first is None:
        return Blindness(0.0, start, "", max(0.0, end - start))
    return Blindness(blind, max(first.t, start), first.hpa_inactive or "", max(0.0, end - start))


def _never_above_max(key: str, hpa: list[WorkloadSample], data: RunData) -> Check:
    over = [s for s in hpa if s.hpa_max is not None and (s.replicas > s.hpa_max or (s.hpa_desired or 0) > s.hpa_max)]
    peak = max(s.replicas for s in hpa)
    if over:
        first = over[0]
        return Check(
            Status.FAIL,
            f"{key}: {first.replicas} replicas (desired {first.hpa_desired}) above HPA maximum "
            f"{first.hpa_max} at {data.rel(first.t)}",
        )
    return Check(Status.PASS, f"{key}: never above HPA maximum (peak {peak} replicas)")


def _scale_up(
    slo: HpaSlo,
    key: str,
    hpa: list[WorkloadSample],
    start: float,
    end: float,
    data: RunData,
    warn_ratio: float,
    blind: Blindness,
) -> Check:
    before = state_at(hpa, start) or hpa[0]
    hmin, hmax = before.hpa_min or 0, before.hpa_max or 0
    needed = hmin + slo.min_scale_up
    figures: dict[str, Figure] = {}
    if needed > hmax:
        return Check(
            Status.FAIL,
            f"{key}: HPA maximum {hmax} leaves no room to scale above minimum {hmin} during the surge",
        )
    if blind.counts() and blind.stretch - blind.seconds < METRICS_SIGHT_S and not _reached(hpa, start, needed):
        return Check(
            Status.INCONCLUSIVE,
            f"{blind.describe(key, data)}, {blind.stretch - blind.seconds:.0f} s of sight of the surge "
            f"(at least {METRICS_SIGHT_S:.0f} s judge it): its scaling was not tested",
        )
    horizon = end + slo.scale_up_within_s + blind.credit()
    during = [s.hpa_desired for s in hpa if start <= s.t <= horizon and s.hpa_desired is not None]
    at_start = before.hpa_desired
    if at_start is not None:
        during.append(at_start)
    if not during:
        return Check(Status.INCONCLUSIVE, f"{key}: no HPA desired count sampled during the surge")
    peak = max(during)
    figures[f"{key} peak_desired"] = Figure(value=peak, better="higher")
    if peak < needed:
        return Check(
            Status.FAIL,
            f"{key}: HPA desired count stayed at {peak} during the surge (needed at least {needed}){blind.aside()}",
            figures=figures,
        )
    return _ready_within(slo, key, hpa, start, min(peak, hmax), data, warn_ratio, blind, figures)


def _ready_within(
    slo: HpaSlo,
    key: str,
    hpa: list[WorkloadSample],
    start: float,
    target: int,
    data: RunData,
    warn_ratio: float,
    blind: Blindness,
    figures: dict[str, Figure],
) -> Check:
    """The scale-up's second half: `target` ready replicas (held, not a flicker) within the limit."""
    hit = first_held(hpa, start, lambda s: s.ready >= target)  # readiness that held, not a flicker
    if hit is None:
        before = state_at(hpa, start) or hpa[0]
        best = max((s.ready for s in hpa if s.t >= start), default=before.ready)
        if data.data_end() >= start + slo.scale_up_within_s + blind.credit():
            return Check(
                Status.FAIL,
                f"{key}: ready replicas never reached {target} after the surge (at most {best}){blind.aside()}",
                figures=figures,
            )
        return Check(
            Status.INCONCLUSIVE,
            f"{key}: the run ended before ready replicas reached {target} or {slo.scale_up_within_s:.0f} s",
        )
    elapsed = hit[0] - start
    judged, credited = _credited(elapsed, _blindness(hpa, start, hit[0]))  # blind before the hit only
    figures[f"{key} scale_up_s"] = Figure(value=judged, limit=slo.scale_up_within_s, unit="s")
    return Check(
        grade_max(judged, slo.scale_up_within_s, warn_ratio),
        f"{key}: {target} ready replicas {elapsed:.0f} s after the surge start{credited} "
        f"(limit {slo.scale_up_within_s:.0f} s)",
        figures=figures,
        items=[f"surge started {data.rel(start)}; {target} ready at {data.rel(hit[0])}"],
    )


def _scale_down(
    key: str,
    samples: list[WorkloadSample],
    start: float,
    to: int,
    within: float,
    data: RunData,
    warn_ratio: float,
    blind: Blindness,
) -> Check:
    hit = first_time(samples, start, lambda s: s.replicas <= to)
    if hit is None:
        last = samples[-1].replicas
        if blind.counts():
            return Check(
                Status.INCONCLUSIVE, f"{blind.describe(key, data)} after the surge: its scale-down was not tested"
            )
        if data.data_end() >= start + within:
            return Check(
                Status.FAIL,
                f"{key}: still {last} replicas {within:.0f} s after the surge (expected at most {to})",
            )
        return Check(
            Status.INCONCLUSIVE,
            f"{key}: the run ended before {within:.0f} s after the surge passed (replicas {last})",
        )
    elapsed = hit[0] - start
    judged, credited = _credited(elapsed, _blindness(samples, start, hit[0]))  # blind before the hit only
    return Check(
        grade_max(judged, within, warn_ratio),
        f"{key}: back to {hit[1].replicas} replicas {elapsed:.0f} s after the surge{credited} "
        f"(at most {to} within {within:.0f} s)",
        figures={f"{key} scale_down_s": Figure(value=judged, limit=within, unit="s")},
    )


def _reached(hpa: list[WorkloadSample], start: float, needed: int) -> bool:
    return any(s.hpa_desired is not None and s.hpa_desired >= needed for s in hpa if s.t >= start)


def _credited(elapsed: float, blind: Blindness) -> tuple[float, str]:
    """The judged time (the blind seconds taken off) and the words that say so."""
    credit = min(elapsed, blind.credit())
    if credit <= 0:
        return elapsed, ""
    return elapsed - credit, f", less {credit:.0f} s the HPA could not read its metrics"
