"""Client SLOs from the Locust windows (`Aggregated` rows).

- overall error ratio: failures / requests over the whole run;
- per-window error ratio during chaos: the worst window overlapping any chaos experiment;
- p95 / p99: windows carry percentiles, not histograms, so the run's figure is estimated as the
  request-weighted mean of the per-window percentiles; the worst window is listed as evidence.
Windows with fewer than `min_window_requests` requests are ignored for the per-window figures.

Only windows the Locust master merged completely count (every connected worker's share is in
them; always so for a single process): a window a dropped-out worker left incomplete is listed,
not judged. A distributed run that lost more than `max_worker_loss` of the workers it started is
inconclusive: its client figures are not those of the load it was meant to drive.
"""

from __future__ import annotations

from aideon_resilience.core.evaluate._common import Check, RunData, combine
from aideon_resilience.core.evaluate.slo import ClientSlo
from aideon_resilience.core.evaluate.verdict import Figure, SloResult, Status, grade_max
from aideon_resilience.core.evidence.loadstats import WindowStat


def worker_loss(data: RunData) -> Check | None:
    """Inconclusive when the run lost more of its Locust workers than it may; None for one process."""
    counts = [w.workers for w in data.aggregated() if w.workers is not None]
    if not counts:
        return None
    started = data.load_workers or max(counts)
    lost = max(0, started - min(counts))
    allowed = data.max_worker_loss if data.max_worker_loss is not None else 0.0
    share = lost / started if started else 1.0
    message = f"load workers: lost {lost} of {started} ({share:.0%}), at most {allowed:.0%} allowed"
    figures = {"workers_lost": Figure(value=lost, limit=allowed * started)}
    if share > allowed:
        return Check(Status.INCONCLUSIVE, message + ": the client figures are not the intended load", figures)
    return Check(Status.PASS, message, figures)


def evaluate_client(slo: ClientSlo, data: RunData, warn_ratio: float) -> SloResult:
    checks: list[Check] = []
    agg = data.merged()
    loss = worker_loss(data)
    if loss is not None:
        checks.append(loss)
    unmerged = [w for w in data.aggregated() if not w.merged]
    if unmerged:
        checks.append(Check(Status.PASS, f"{len(unmerged)} windows the master did not merge completely are left out",
                            items=[f"window {data.rel(w.start)}..{data.rel(w.end)}: {w.merged_workers} of "
                                   f"{w.workers} workers merged" for w in unmerged[:10]]))
    wanted = [
        n
        for n, v in (
            ("error ratio", slo.max_error_ratio),
            ("error ratio during chaos", slo.max_chaos_window_error_ratio),
            ("p95", slo.p95_ms),
            ("p99", slo.p99_ms),
        )
        if v is not None
    ]
    if data.windows is None or not agg or data.load_lost_at is not None:
        if data.load_lost_at is not None:
            why = (f"the load ended at {data.rel(data.load_lost_at)}, before the chaos suite did "
                   "(see locust.log): the client figures cover part of the run")
        else:
            why = "no Locust windows file" if data.windows is None else "no merged Aggregated Locust windows"
        checks += [Check(Status.INCONCLUSIVE, f"{name}: {why}") for name in wanted]
        return combine(slo.id, "client", slo.weight, slo.description, checks)

    if slo.max_error_ratio is not None:
        checks.append(_error_ratio(slo.max_error_ratio, agg, warn_ratio))
    if slo.max_chaos_window_error_ratio is not None:
        checks.append(_chaos_windows(slo, slo.max_chaos_window_error_ratio, data, warn_ratio))
    for name, limit, attr in (("p95", slo.p95_ms, "p95_ms"), ("p99", slo.p99_ms, "p99_ms")):
        if limit is not None:
            checks.append(_latency(name, limit, attr, slo.min_window_requests, agg, data, warn_ratio))
    return combine(slo.id, "client", slo.weight, slo.description, checks)


def _error_ratio(limit: float, agg: list[WindowStat], warn_ratio: float) -> Check:
    requests = sum(w.requests for w in agg)
    failures = sum(w.failures for w in agg)
    if requests == 0:
        return Check(Status.INCONCLUSIVE, "error ratio: no request recorded")
    ratio = failures / requests
    return Check(
        grade_max(ratio, limit, warn_ratio),
        f"error ratio {ratio:.4f} ({failures}/{requests}), limit {limit}",
        figures={"error_ratio": Figure(value=ratio, limit=limit)},
    )


def _latency(name: str, limit: float, attr: str, min_requests: int, agg: list[WindowStat], data: RunData,
             warn_ratio: float) -> Check:
    """The request-weighted percentile over the windows with enough requests, and the worst window."""
    rows = [(w, float(getattr(w, attr))) for w in agg if getattr(w, attr) is not None and w.requests >= min_requests]
    if not rows:
        return Check(Status.INCONCLUSIVE, f"{name}: no window with a {name} latency")
    total = sum(w.requests for w, _ in rows)
    value = sum(w.requests * v for w, v in rows) / total
    worst_w, worst_v = max(rows, key=lambda r: r[1])
    return Check(
        grade_max(value, limit, warn_ratio),
        f"{name} {value:.0f} ms (request-weighted over {len(rows)} windows), limit {limit:.0f} ms",
        figures={f"{name}_ms": Figure(value=value, limit=limit, unit="ms")},
        items=[f"worst {name} window {data.rel(worst_w.start)}..{data.rel(worst_w.end)}: {worst_v:.0f} ms"],
    )


def _chaos_windows(slo: ClientSlo, limit: float, data: RunData, warn_ratio: float) -> Check:
    name = "error ratio during chaos"
    if data.timeline is None:
        return Check(Status.INCONCLUSIVE, f"{name}: no timeline, chaos spans unknown")
    spans = [(e.start, e.end, e.experiment) for e in data.timeline.experiments]
    if not spans:
        return Check(Status.INCONCLUSIVE, f"{name}: no chaos experiment in the timeline")
    rows = []
    for w in data.merged():
        if w.requests < slo.min_window_requests:
            continue
        for start, end, exp in spans:
            if w.start < end and w.end > start:
                rows.append((w, exp))
                break
    if not rows:
        return Check(Status.INCONCLUSIVE, f"{name}: no Locust window overlaps a chaos experiment")
    worst_w, worst_exp = max(rows, key=lambda r: r[0].error_ratio)
    over = [r for r in rows if r[0].error_ratio > limit]
    items = [
        f"window {data.rel(w.start)}..{data.rel(w.end)} during {exp}: "
        f"error ratio {w.error_ratio:.4f} ({w.failures}/{w.requests})"
        for w, exp in over[:10]
    ]
    return Check(
        grade_max(worst_w.error_ratio, limit, warn_ratio),
        f"worst window error ratio during chaos {worst_w.error_ratio:.4f} "
        f"at {data.rel(worst_w.start)} ({worst_exp}), limit {limit}; "
        f"{len(over)}/{len(rows)} windows over the limit",
        figures={"chaos_window_error_ratio": Figure(value=worst_w.error_ratio, limit=limit)},
        items=items,
    )
