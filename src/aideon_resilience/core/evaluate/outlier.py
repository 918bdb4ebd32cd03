"""Outlier-detection SLOs: while a backend fails, the error ratio is back under X within T and stays
under X until the backend is healed; the proxy ejected it, again after each return, for longer each
time.

Whose error ratio (`error_ratio_of`): the clients' (the Locust windows), or the attempts the SLO's
pools answered at the proxy, retried ones included (`attempts`: the data plane's `pool_traffic`
counts, one window per period). A route that retries 5xx on another host hides a failing host from
the clients with or without outlier detection; its attempts still fail until it is ejected, and
they are what outlier detection counts. The clients are then judged apart: their error ratio over
the windows of the failure, as a whole, under X (whether outlier detection and the route's retries
kept it there).

The backend fails from the first action of the outlier experiment whose name matches
`failing_activity` (the experiment's first action, else its start, when none matches) until the
first later action matching `healing_activity` (the experiment's end when none does).

- **Error ratio**: the windows (`Aggregated`, or the pools' attempts) from the failure to the
  healing. Recovery is the end of the first window at or under X that began at or after the failure
  (a window that straddles it is mostly healthy traffic) and finished before the healing; it must
  come within T, and every later window up to the healing must stay at or under X. A window that
  overlaps a re-admission burst may go over X by `readmission_errors` failures per burst: a backend
  that still fails gets consecutive5xxErrors requests before outlier detection ejects it again
  (Envoy counts them all; so do the attempt windows, and so does the client when the route does not
  retry them). The burst lasts from the backend's return to its next ejection (the healing when none came):
  at a few requests a second to that backend it spans more than one window.
  Without outlier detection the failing backend keeps its share until it is healed, so this half
  fails on its own.
- **Ejection**: the ejections (`down` events) of a matching service while the backend fails. With
  `min_ejections` 2 or more, the most ejected backend must have been ejected that many times, each
  time for longer than the time before (Envoy's baseEjectionTime x times ejected). An ejection's
  length is measured from its return when one was recorded, else the time the detector set. The
  ejections maxEjectionPercent refused are named when none happened.

Where the data plane counted the proxy's responses per pool (`pool_traffic`: a service, or one
subset of it such as `api-gateway.v2`), the error-ratio half lists, per pool of the SLO's services
that answered 5xx while the backend failed, how many and how many of those had no healthy host; a
failing error ratio names the pool with the most.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from aideon_resilience.core.evaluate._common import Check, RunData, combine, find_scenario
from aideon_resilience.core.evaluate.slo import OutlierSlo
from aideon_resilience.core.evaluate.verdict import Figure, SloResult, Status, grade_max
from aideon_resilience.core.evidence.loadstats import AGGREGATED, WindowStat
from aideon_resilience.core.evidence.timeline import ChaosActivity, EjectionEvent, PoolTrafficSample, matches

# a return this long before a window starts still counts for it (its burst straddles the boundary)
_BURST_SPILL_S = 1.0


def _attempt_windows(slo: OutlierSlo, samples: list[PoolTrafficSample]) -> list[WindowStat]:
    """The attempts the SLO's pools answered, one window per `pool_traffic` period (the pools of
    one flush share its time): requests are attempts, failures their 5xx."""
    sums: dict[float, list[float]] = {}
    for sample in samples:
        if _pool_matches(sample.service, slo.services) and sample.attempts:
            c = sums.setdefault(sample.t, [sample.period_s, 0, 0])
            c[1] += sample.attempts
            c[2] += sample.attempt_errors
    return [WindowStat(start=t - period, end=t, endpoint=AGGREGATED, users=0, requests=int(n), failures=int(f),
                       rps=n / period if period > 0 else 0.0, error_ratio=min(1.0, f / n))
            for t, (period, n, f) in sorted(sums.items())]


@dataclass(frozen=True)
class _Counted:
    """How the error-ratio half names what its windows count."""

    label: str  # the ratio
    noun: str  # after "failures/total"
    window: str  # one window


_CLIENTS = _Counted("error ratio", "", "Locust window")
_ATTEMPTS = _Counted("attempt error ratio", " attempts", "attempt window of the proxy")


def _during(windows: list[WindowStat], fail_at: float, heal_at: float) -> list[WindowStat]:
    """The windows that overlap the failure."""
    return [w for w in windows if w.end > fail_at and w.start < heal_at]


def _ratio_windows(slo: OutlierSlo, data: RunData) -> tuple[list[WindowStat] | None, _Counted, str]:
    """The windows the error ratio is judged on, what they count, and why there are none."""
    if slo.error_ratio_of == "attempts":
        samples = data.timeline.pool_traffic if data.timeline is not None else []
        found = _attempt_windows(slo, samples)
        return (found or None, _ATTEMPTS, "no attempt counts of the proxy's pools (pool_traffic) for "
                + ", ".join(slo.services))
    return (data.aggregated() if data.windows is not None else None, _CLIENTS, "no Locust windows file")


def _error_ratio_check(slo: OutlierSlo, data: RunData, warn_ratio: float, fail_at: float, heal_at: float,
                       bursts: list[tuple[float, float]], what: str) -> Check:
    """The first window under X before the healing, within T of the failure, and every window after
    it up to the healing under X too (re-admission bursts allowed)."""
    found, counted, missing = _ratio_windows(slo, data)
    if found is None:
        return Check(Status.INCONCLUSIVE, missing)
    windows = [w for w in _during(found, fail_at, heal_at) if w.requests > 0]
    label, noun = counted.label, counted.noun
    if not windows:
        return Check(Status.INCONCLUSIVE, f"no {counted.window} while the backend failed ({what})")

    def allowed(w: WindowStat) -> float:
        n = sum(1 for back, out in bursts if back < w.end and out >= w.start - _BURST_SPILL_S)
        return slo.max_error_ratio * w.requests + slo.readmission_errors * n

    under = [w.failures <= allowed(w) for w in windows]
    # a window that began before the failure is mostly healthy traffic: under X it shows no recovery
    first = next((i for i, (w, u) in enumerate(zip(windows, under, strict=True))
                  if u and w.start >= fail_at and w.end <= heal_at), None)
    peak = max(w.error_ratio for w in windows)
    items = [f"backend failing from {what} to {data.rel(heal_at)}; peak window {label} {peak:.4f}; "
             f"{len(bursts)} return(s) of an ejected backend meanwhile"]
    items += [f"window at {data.rel(w.start)}: {w.failures}/{w.requests}{noun} failed, over {slo.max_error_ratio} "
              f"only by a re-admission burst (at most {allowed(w):.0f})"
              for w, u in zip(windows, under, strict=True) if u and w.error_ratio > slo.max_error_ratio]
    if first is None:
        over = [w for w, u in zip(windows, under, strict=True) if not u]
        if not over:  # every window under X, but none ended before the healing: nothing to judge
            return Check(Status.INCONCLUSIVE, f"no {counted.window} ended while the backend failed ({what}, "
                         f"healed at {data.rel(heal_at)})", items=items)
        last = over[-1]
        return Check(
            Status.FAIL,
            f"{label} above {slo.max_error_ratio} until the backend was healed at {data.rel(heal_at)} "
            f"(window at {data.rel(last.start)}: {last.failures}/{last.requests}{noun} failed)",
            items=items,
        )
    recovered = windows[first].end
    again = next((w for w, u in zip(windows[first:], under[first:], strict=True) if not u), None)
    if again is not None:
        return Check(
            Status.FAIL,
            f"{label} back under {slo.max_error_ratio} at {data.rel(recovered)}, above it again before the "
            f"backend was healed (window at {data.rel(again.start)}: {again.failures}/{again.requests}{noun} failed)",
            items=items,
        )
    took = max(0.0, recovered - fail_at)
    when = (f"under {slo.max_error_ratio} from the backend's failure" if all(under[:first])
            else f"back under {slo.max_error_ratio} {took:.0f} s after the backend failed")
    return Check(
        grade_max(took, slo.within_s, warn_ratio),
        f"{label} {when} and under it until it was healed (limit {slo.within_s:.0f} s)",
        figures={"outlier_recovery_s": Figure(value=took, limit=slo.within_s, unit="s")},
        items=items,
    )


def _client_check(slo: OutlierSlo, data: RunData, fail_at: float, heal_at: float) -> Check:
    """With the attempts judged, the clients apart: whether outlier detection and the route's
    retries kept the clients' error ratio under X over the windows of the failure, as a whole."""
    if data.windows is None:
        return Check(Status.INCONCLUSIVE, "no Locust windows file: the clients' error ratio while the backend "
                     "failed is not known")
    windows = _during(data.aggregated(), fail_at, heal_at)
    requests, failures = sum(w.requests for w in windows), sum(w.failures for w in windows)
    if not requests:
        return Check(Status.INCONCLUSIVE, "no client request while the backend failed")
    ratio = failures / requests
    figures = {"outlier_client_error_ratio": Figure(value=ratio, limit=slo.max_error_ratio, unit="ratio")}
    said = f"clients' error ratio while the backend failed {ratio:.4f} ({failures}/{requests})"
    if ratio > slo.max_error_ratio:
        return Check(Status.FAIL, f"{said}, above {slo.max_error_ratio}: outlier detection and the route's "
                     "retries did not keep it under the limit", figures=figures)
    return Check(Status.PASS, f"{said}, under {slo.max_error_ratio}: outlier detection and the route's retries "
                 "kept it under the limit", figures=figures)


def _length(down: EjectionEvent, later: list[EjectionEvent]) -> float | None:
    """How long an ejection lasted: to the backend's next return, else the time the detector set."""
    back = next((e for e in later if e.backend == down.backend and e.t >= down.t and e.state != "refused"), None)
    if back is not None and back.state == "up":
        return back.t - down.t
    return down.ejection_s


def _ejection_check(slo: OutlierSlo, data: RunData, fail_at: float, heal_at: float, until: float) -> Check:
    """The failing backend ejected (`min_ejections` times, each longer) between the failure and the healing."""
    assert data.timeline is not None
    events = sorted((e for e in data.timeline.ejections
                     if matches(e.service, slo.services) and fail_at - 1 <= e.t <= until), key=lambda e: e.t)
    downs = [e for e in events if e.state == "down" and e.t <= heal_at]
    if not downs:
        refused = [e for e in events if e.state == "refused" and e.t <= heal_at]
        why = ""
        if refused:
            names = ", ".join(sorted({e.backend for e in refused}))
            why = f"; {len(refused)} ejection(s) of {names} refused by maxEjectionPercent"
        return Check(Status.FAIL, f"no ejection observed between {data.rel(fail_at)} and {data.rel(heal_at)}{why}")
    backend = max(dict.fromkeys(e.backend for e in downs), key=lambda b: sum(e.backend == b for e in downs))
    seq = [e for e in downs if e.backend == backend]
    lengths = [_length(e, [x for x in events if x.t > e.t]) for e in seq]
    items = [f"ejection {k} of {backend} ({e.service}) at {data.rel(e.t)}: "
             + (f"out {n:.1f} s" if n is not None else "length not recorded")
             for k, (e, n) in enumerate(zip(seq, lengths, strict=True), 1)]
    first = f"first {seq[0].t - fail_at:.0f} s after the backend failed"
    if len(seq) < slo.min_ejections:
        return Check(Status.FAIL, f"{backend} ejected {len(seq)} time(s) while it failed, {slo.min_ejections} "
                     f"expected: it was not ejected again after its return ({first})", items=items)
    if slo.min_ejections < 2:
        return Check(Status.PASS, f"ejection of {backend} ({seq[0].service}) {first.removeprefix('first ')}",
                     items=items)
    for k, (a, b) in enumerate(pairwise(lengths[: slo.min_ejections]), 1):
        if a is None or b is None:
            return Check(Status.INCONCLUSIVE, f"ejection {k if a is None else k + 1} of {backend} has no "
                         "recorded length", items=items)
        if b <= a:
            return Check(Status.FAIL, f"ejection {k + 1} of {backend} lasted {b:.0f} s, no longer than ejection "
                         f"{k} ({a:.0f} s): the ejection time did not grow", items=items)
    shown = ", ".join(f"{n:.0f} s" for n in lengths if n is not None)
    return Check(Status.PASS, f"{backend} ({seq[0].service}) ejected {len(seq)} times while it failed, each "
                 f"time for longer ({shown}); {first}", items=items)


def _bursts(slo: OutlierSlo, ejections: list[EjectionEvent], fail_at: float,
            heal_at: float) -> list[tuple[float, float]]:
    """Each return of an ejected backend while it failed, with the end of its re-admission burst:
    the backend's next ejection, else the healing."""
    mine = sorted((e for e in ejections if matches(e.service, slo.services)), key=lambda e: e.t)
    out = []
    for e in mine:
        if e.state == "up" and fail_at <= e.t <= heal_at:
            again = next((x.t for x in mine if x.backend == e.backend and x.state == "down" and x.t >= e.t), heal_at)
            out.append((e.t, min(again, heal_at)))
    return out


def _pool_matches(pool: str, services: list[str]) -> bool:
    """A subset's pool (`api-gateway.v2`) belongs to its service's patterns as well as its own."""
    return matches(pool, services) or matches(pool.split(".", 1)[0], services)


def _pool_errors(slo: OutlierSlo, samples: list[PoolTrafficSample], fail_at: float,
                 heal_at: float) -> tuple[list[str], str]:
    """Per pool of the SLO's services, the 5xx the proxy answered while the backend failed (a sample
    covers the period before its time): evidence items, worst first, and a note on the worst."""
    sums: dict[str, list[int]] = {}
    for sample in samples:
        if fail_at < sample.t <= heal_at + sample.period_s and _pool_matches(sample.service, slo.services):
            counts = sums.setdefault(sample.service, [0, 0, 0, 0, 0])
            counts[0] += sample.responses
            counts[1] += sample.errors
            counts[2] += sample.no_host
            counts[3] += sample.attempts
            counts[4] += sample.attempt_errors
    failing = sorted(((pool, c[0], c[1], c[2], c[3], c[4]) for pool, c in sums.items() if c[1] or c[4]),
                     key=lambda x: (-x[2], -x[5], x[0]))

    def no_host(n: int) -> str:
        return f", {n} with no healthy host (503 no healthy upstream)" if n else ""

    def hosts(attempts: int, errors: int) -> str:
        return f"; its hosts answered {errors}/{attempts} attempts 5xx" if attempts else ""

    items = [f"proxy, pool {pool}: {errors}/{responses} responses 5xx{no_host(nh)}{hosts(att, att_err)}"
             for pool, responses, errors, nh, att, att_err in failing]
    if not failing or not failing[0][2]:
        return items, ""
    pool, responses, errors, nh, _, _ = failing[0]
    return items, f"; at the proxy: {pool} {errors}/{responses} 5xx" + (f", {nh} with no healthy host" if nh else "")


def _between(acts: list[ChaosActivity], after: float) -> float | None:
    return next((a.start for a in acts if a.start >= after), None)


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
    heal_at = _between(tl.activities(exp.experiment, slo.healing_activity), fail_at) or exp.end
    bursts = _bursts(slo, tl.ejections, fail_at, heal_at)
    ratio = _error_ratio_check(slo, data, warn_ratio, fail_at, heal_at, bursts, what)
    items, worst_pool = _pool_errors(slo, tl.pool_traffic, fail_at, heal_at)
    ratio.items += items
    if ratio.status is Status.FAIL:
        ratio.message += worst_pool
    checks = [ratio]
    if slo.error_ratio_of == "attempts":
        checks.append(_client_check(slo, data, fail_at, heal_at))
    if slo.require_ejection:
        checks.append(_ejection_check(slo, data, fail_at, heal_at, exp.end + slo.within_s))
    return done(checks)
