"""HPA SLOs: scale-out within T of the surge, never above the maximum, back down afterwards.

The surge starts at the start of the surge experiment (`load-surge`). The HPA must raise its
desired count to at least `minReplicas + min_scale_up` during the surge (an HPA whose maximum
leaves no such room fails); ready replicas must then reach the highest desired count seen
(capped at the maximum) within `scale_up_within_s`. Replicas or desired count above the HPA's
maximum at any time fail. With `scale_down_to`, replicas must be at or under that count within
`scale_down_within_s` of the surge experiment's end.

An HPA that could not read its metrics (ScalingActive=False, e.g. metrics-server stopped) for
`METRICS_BLIND_S` or more between the surge's start and the end of its judged windows did not get
the chance to scale: its scale-up and scale-down checks are inconclusive, naming the reason.
"""

from __future__ import annotations

from aideon_resilience.core.evaluate._common import Check, RunData, combine, first_held, first_time, state_at
from aideon_resilience.core.slo import HpaSlo
from aideon_resilience.core.timeline import WorkloadSample, matches
from aideon_resilience.core.verdict import Figure, SloResult, Status, grade_max


def evaluate_hpa(slo: HpaSlo, data: RunData, warn_ratio: float) -> SloResult:
    def done(checks: list[Check]) -> SloResult:
        return combine(slo.id, "hpa", slo.weight, slo.description, checks)

    tl = data.timeline
    if tl is None:
        return done([Check(Status.INCONCLUSIVE, "no timeline file")])
    series = {k: v for k, v in tl.workload_series().items() if matches(k, slo.workloads)}
    if not series:
        return done(
            [Check(Status.INCONCLUSIVE, f"no workload sample matching {', '.join(slo.workloads)}")]
        )
    surge = tl.experiment(slo.surge_experiment)
    checks: list[Check] = []
    for key, samples in sorted(series.items()):
        hpa = [s for s in samples if s.hpa_max is not None and s.hpa_min is not None]
        if not hpa:
            checks.append(Check(Status.INCONCLUSIVE, f"{key}: no HPA sampled"))
            continue
        checks.append(_never_above_max(key, hpa, data))
        if surge is None:
            checks.append(
                Check(Status.INCONCLUSIVE, f"{key}: no {slo.surge_experiment} experiment in the timeline")
            )
            continue
        horizon = surge.end + max(slo.scale_up_within_s, slo.scale_down_within_s or 0)
        blind = _metrics_blind(key, hpa, surge.start, min(horizon, data.data_end()), data)
        if blind is not None:
            checks.append(blind)
            continue
        checks.append(_scale_up(slo, key, hpa, surge.start, surge.end, data, warn_ratio))
        if slo.scale_down_to is not None and slo.scale_down_within_s is not None:
            checks.append(
                _scale_down(
                    key, samples, surge.end, slo.scale_down_to, slo.scale_down_within_s, data, warn_ratio
                )
            )
    return done(checks)


METRICS_BLIND_S = 10.0
"""How long an HPA may go without metrics in the judged stretch before its checks are inconclusive
(two of the local cluster's 5 s HPA syncs; a missed scrape is not a blind HPA)."""


def _metrics_blind(key: str, hpa: list[WorkloadSample], start: float, end: float, data: RunData) -> Check | None:
    """Inconclusive when the HPA could not read its metrics for METRICS_BLIND_S within [start, end]."""
    blind = 0.0
    first: WorkloadSample | None = None
    current = state_at(hpa, start)
    points = [s for s in hpa if start < s.t < end]
    for sample, until in zip([current, *points], [*(s.t for s in points), end], strict=True):
        if sample is not None and sample.hpa_inactive is not None:
            blind += until - max(sample.t, start)
            first = first or sample
    if first is None or blind < METRICS_BLIND_S:
        return None
    return Check(
        Status.INCONCLUSIVE,
        f"{key}: the HPA could not read its metrics for {blind:.0f} s from {data.rel(max(first.t, start))} "
        f"({first.hpa_inactive}): its scaling was not tested",
    )


def _never_above_max(key: str, hpa: list[WorkloadSample], data: RunData) -> Check:
    over = [
        s
        for s in hpa
        if s.hpa_max is not None and (s.replicas > s.hpa_max or (s.hpa_desired or 0) > s.hpa_max)
    ]
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
    horizon = end + slo.scale_up_within_s
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
            f"{key}: HPA desired count stayed at {peak} during the surge (needed at least {needed})",
            figures=figures,
        )
    target = min(peak, hmax)
    hit = first_held(hpa, start, lambda s: s.ready >= target)  # readiness that held, not a flicker
    if hit is None:
        best = max((s.ready for s in hpa if s.t >= start), default=before.ready)
        if data.data_end() >= start + slo.scale_up_within_s:
            return Check(
                Status.FAIL,
                f"{key}: ready replicas never reached {target} after the surge (at most {best})",
                figures=figures,
            )
        return Check(
            Status.INCONCLUSIVE,
            f"{key}: the run ended before ready replicas reached {target} or {slo.scale_up_within_s:.0f} s",
        )
    elapsed = hit[0] - start
    figures[f"{key} scale_up_s"] = Figure(value=elapsed, limit=slo.scale_up_within_s, unit="s")
    return Check(
        grade_max(elapsed, slo.scale_up_within_s, warn_ratio),
        f"{key}: {target} ready replicas {elapsed:.0f} s after the surge start "
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
) -> Check:
    hit = first_time(samples, start, lambda s: s.replicas <= to)
    if hit is None:
        last = samples[-1].replicas
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
    return Check(
        grade_max(elapsed, within, warn_ratio),
        f"{key}: back to {hit[1].replicas} replicas {elapsed:.0f} s after the surge "
        f"(at most {to} within {within:.0f} s)",
        figures={f"{key} scale_down_s": Figure(value=elapsed, limit=within, unit="s")},
    )
