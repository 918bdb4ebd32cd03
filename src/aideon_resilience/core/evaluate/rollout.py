"""Rollout SLOs: a rolling update under load keeps serving.

The update is the first action of the rollout experiment (`rolling-update`) whose name matches
`rollout_activity`; it changes the pod template and waits for the rollout to complete. For each
matching Deployment, from the update until the rollout is judged over:

- **availability**: ready replicas never below `replicas - maxUnavailable` as the sampler saw
  the Deployment (the strategy's bound, resolved by the sampler against the replicas of that
  moment; all of them may go under `Recreate`);
- **completion**: the new ReplicaSet fully available within T of the update, as `kubectl rollout
  status` judges it (every replica updated and ready, no pod of an old ReplicaSet left), held for
  `READY_HOLD_S` (not a flicker);
- **clients**: the error ratio of the requests in the Locust windows that overlap the rollout
  (request-weighted, `Aggregated`, merged windows only) at most X; fewer than `min_requests` is
  inconclusive.
"""

from __future__ import annotations

from aideon_resilience.core.evaluate._common import (
    Check,
    RunData,
    Scenario,
    first_held,
    judge_scenario,
    not_reached,
    state_at,
    timed,
)
from aideon_resilience.core.evaluate.slo import RolloutSlo
from aideon_resilience.core.evaluate.verdict import Figure, SloResult, Status, grade_max
from aideon_resilience.core.evidence.timeline import ChaosActivity, WorkloadSample


def evaluate_rollout(slo: RolloutSlo, data: RunData, warn_ratio: float) -> SloResult:
    return judge_scenario(slo, "rollout", data, (slo.rollout_activity, "rollout"),
                          lambda found, action: _checks(slo, found, action, data, warn_ratio))


def _checks(slo: RolloutSlo, found: Scenario, update: ChaosActivity, data: RunData,
            warn_ratio: float) -> list[Check]:
    until = max(update.end, found.experiment.end)
    checks = [_clients(slo, data, update, warn_ratio)]
    for key, samples in sorted(found.series.items()):
        checks.append(_availability(key, samples, update.start, until, data))
        checks.append(_completion(key, samples, update, slo, data, warn_ratio))
    return checks


def _availability(key: str, samples: list[WorkloadSample], start: float, until: float, data: RunData) -> Check:
    """Ready replicas never below `replicas - maxUnavailable` over [start, until]."""
    before = state_at(samples, start)
    during = [s for s in samples if start < s.t <= until]
    judged = [s for s in ([before] if before else []) + during if s.max_unavailable is not None]
    if not judged:
        return Check(Status.INCONCLUSIVE, f"{key}: no sample of its rollout strategy (maxUnavailable)")
    short = [s for s in judged if s.ready < _floor(s)]
    low = min(judged, key=lambda s: s.ready - _floor(s))
    figures = {f"{key} rollout_lowest_ready": Figure(value=low.ready, limit=_floor(low), better="higher")}
    if short:
        first = short[0]
        return Check(
            Status.FAIL,
            f"{key}: {first.ready} ready replicas at {data.rel(first.t)}, below the {_floor(first)} its rollout "
            f"strategy keeps ({first.replicas} replicas, maxUnavailable {first.max_unavailable})",
            figures=figures,
            items=[f"{s.ready}/{s.replicas} ready at {data.rel(s.t)}" for s in short[:10]],
        )
    return Check(
        Status.PASS,
        f"{key}: ready replicas never below its rollout bound (lowest {low.ready}, bound {_floor(low)})",
        figures=figures,
    )


def _floor(s: WorkloadSample) -> int:
    """The ready replicas the rollout strategy keeps at this sample."""
    return s.replicas - (s.max_unavailable or 0)


def _complete(s: WorkloadSample) -> bool:
    total = s.total_replicas if s.total_replicas is not None else s.replicas
    return s.updated == s.replicas and total == s.replicas and s.ready >= s.replicas


def _completion(key: str, samples: list[WorkloadSample], update: ChaosActivity, slo: RolloutSlo, data: RunData,
                warn_ratio: float) -> Check:
    """Every replica updated and ready, held, within T of the update."""
    after = [s for s in samples if s.t > update.start]
    if not any(s.updated is not None for s in after):
        return Check(Status.INCONCLUSIVE, f"{key}: no sample of its updated replicas after the update")
    # updated < replicas at some point shows the new template was taken up; then all of them, ready
    began = next((s.t for s in after if s.updated is not None and s.updated < s.replicas), None)
    if began is None:
        return Check(Status.FAIL, f"{key}: no rollout seen after {update.activity}: every replica stayed on its "
                     "template (did the update change the pod template?)")
    hit = first_held(samples, began, _complete)
    if hit is None:
        last = samples[-1]
        return not_reached(
            data, update.start + slo.within_s,
            f"{key}: the new ReplicaSet not fully available {slo.within_s:.0f} s after {update.activity} "
            f"(last seen {last.updated} updated, {last.ready} ready of {last.replicas}, {last.total_replicas} pods)",
            f"{key}: the run ended before the rollout completed",
        )
    took = hit[0] - update.start
    return timed(
        took, slo.within_s, warn_ratio,
        f"{key}: the new ReplicaSet fully available {took:.0f} s after {update.activity} (limit {slo.within_s:.0f} s)",
        f"{key} rollout_s",
        [f"update at {data.rel(update.start)}; all {hit[1].replicas} replicas updated and ready at {data.rel(hit[0])}"],
    )


def _clients(slo: RolloutSlo, data: RunData, update: ChaosActivity, warn_ratio: float) -> Check:
    """The request-weighted error ratio of the Locust windows that overlap the rollout."""
    if data.windows is None:
        return Check(Status.INCONCLUSIVE, "no Locust windows file")
    windows = [w for w in data.merged() if w.start < update.end and w.end > update.start]
    requests = sum(w.requests for w in windows)
    if requests < slo.min_requests:
        return Check(Status.INCONCLUSIVE, f"{requests} requests during the rollout "
                     f"(at least {slo.min_requests} judge its error ratio)")
    failures = sum(w.failures for w in windows)
    ratio = failures / requests
    worst = max(windows, key=lambda w: w.error_ratio)
    return Check(
        grade_max(ratio, slo.max_error_ratio, warn_ratio),
        f"client error ratio {ratio:.4f} during the rollout ({failures}/{requests}), limit {slo.max_error_ratio}",
        figures={"rollout_error_ratio": Figure(value=ratio, limit=slo.max_error_ratio)},
        items=[f"rollout {data.rel(update.start)}..{data.rel(update.end)}; worst window "
               f"{data.rel(worst.start)}..{data.rel(worst.end)}: {worst.error_ratio:.4f}"],
    )
