"""Recovery SLOs: ready replicas back to the desired count within T of a pod kill.

The kill is the first action of the recovery experiment (`pod-kill`) whose name matches
`kill_activity`. For each matching workload the desired count is its replica count just before
the kill; recovery is the first time, after ready replicas fell below it, that they are back
and stay back for `READY_HOLD_S` (a pod reported Ready for a moment before its process answers
is not a recovery).
A workload that never lost a ready replica passes with that noted.
"""

from __future__ import annotations

from aideon_resilience.core.evaluate._common import (
    Check,
    RunData,
    combine,
    find_scenario,
    first_held,
    first_time,
    not_reached,
    state_at,
    timed,
)
from aideon_resilience.core.evaluate.slo import RecoverySlo
from aideon_resilience.core.evaluate.verdict import Figure, SloResult, Status
from aideon_resilience.core.evidence.timeline import ChaosActivity, WorkloadSample


def evaluate_recovery(slo: RecoverySlo, data: RunData, warn_ratio: float) -> SloResult:
    def done(checks: list[Check]) -> SloResult:
        return combine(slo.id, "recovery", slo.weight, slo.description, checks)

    found = find_scenario(data, slo.experiment, (slo.kill_activity, "kill"), slo.workloads)
    if isinstance(found, Check):
        return done([found])
    kill = found.action
    assert kill is not None
    series = found.series
    return done([_workload_check(key, samples, kill, slo, data, warn_ratio) for key, samples in sorted(series.items())])


def _workload_check(key: str, samples: list[WorkloadSample], kill: ChaosActivity, slo: RecoverySlo, data: RunData,
                    warn_ratio: float) -> Check:
    """Whether one workload's ready replicas were back to what it ran before the kill, held, within T."""
    before = state_at(samples, kill.start)
    if before is None:
        return Check(Status.INCONCLUSIVE, f"{key}: no sample before the kill")
    desired = before.replicas
    dip = first_time(samples, kill.start, lambda s, d=desired: s.ready < d)  # type: ignore[misc]
    if dip is None:
        return Check(
            Status.PASS,
            f"{key}: no ready replica lost after {kill.activity} ({desired} desired)",
            figures={f"{key} recovery_s": Figure(value=0.0, limit=slo.within_s, unit="s")},
        )
    low = min((s.ready for s in samples if s.t >= dip[0]), default=dip[1].ready)
    back = first_held(samples, dip[0], lambda s, d=desired: s.ready >= d)  # type: ignore[misc]
    if back is None:
        return not_reached(
            data, kill.start + slo.within_s,
            f"{key}: ready replicas not back to {desired} after {kill.activity} "
            f"(lowest {low}, last {samples[-1].ready})",
            f"{key}: the run ended before ready replicas recovered",
        )
    took = back[0] - kill.start
    return timed(
        took, slo.within_s, warn_ratio,
        f"{key}: {desired} ready replicas again {took:.0f} s after {kill.activity} "
        f"(lowest {low}, limit {slo.within_s:.0f} s)",
        f"{key} recovery_s",
        [f"kill at {data.rel(kill.start)}; back at {data.rel(back[0])}"],
    )
