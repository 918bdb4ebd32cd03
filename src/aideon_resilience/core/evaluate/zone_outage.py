"""Zone-outage SLOs of a gate: the critical services come back on the surviving zones.

The zone is lost when the first action of the experiment (`zone-outage`) matching
`outage_activity` ends (its nodes are then not ready), and comes back when the experiment's
first rollback starts (else when the experiment ends). For each matching workload:

- **back on the surviving zones**: the replicas that count are ready *and on a Ready node*
  (`zone_capacity.surviving_ready`: a pod on a lost node may still be reported Ready until the
  node lifecycle controller catches up). They must reach the workload's minimum (its HPA's
  minReplicas, else the replicas it ran before the outage) within T of the loss and hold there
  for `READY_HOLD_S`. A zone back before T without that is inconclusive: nothing to judge;
- **anti-affinity held**: a workload whose pod template requires hostname anti-affinity never
  has two replicas on one node while the zone is lost (the rescheduled replicas included).
"""

from __future__ import annotations

from typing import NamedTuple

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
from aideon_resilience.core.evaluate.anti_affinity import one_per_node
from aideon_resilience.core.evaluate.slo import ZoneOutageSlo
from aideon_resilience.core.evaluate.verdict import SloResult, Status
from aideon_resilience.core.evaluate.zone_capacity import surviving_ready
from aideon_resilience.core.evidence.timeline import ChaosActivity, PlacementSample, Timeline, WorkloadSample


def evaluate_zone_outage(slo: ZoneOutageSlo, data: RunData, warn_ratio: float) -> SloResult:
    return judge_scenario(slo, "zone_outage", data, (slo.outage_activity, "zone outage"),
                          lambda found, action: _checks(slo, found, action, data, warn_ratio))


def _checks(slo: ZoneOutageSlo, found: Scenario, outage: ChaosActivity, data: RunData,
            warn_ratio: float) -> list[Check]:
    tl = found.timeline
    lost = outage.end
    rollbacks = [a for a in tl.activities(found.experiment.experiment, "*", "rollback") if a.start >= lost]
    back = rollbacks[0].start if rollbacks else found.experiment.end
    placements = tl.placement_series()
    checks: list[Check] = []
    for key, samples in sorted(found.series.items()):
        mine = placements.get(key, [])
        checks.append(_back_on_surviving_zones(key, samples, mine, tl, (lost, back), slo, data, warn_ratio))
        if any(s.anti_affinity == "required" for s in samples):
            during = [p for p in mine if lost <= p.t <= back]
            checks.append(one_per_node(key, during, data))
    return checks


class _Count(NamedTuple):
    """Ready replicas on the surviving zones at `t`."""

    t: float
    ready: int


def _minimum(before: WorkloadSample) -> int:
    return before.hpa_min if before.hpa_min is not None else before.replicas


def _back_on_surviving_zones(key: str, samples: list[WorkloadSample], placements: list[PlacementSample],
                             tl: Timeline, span: tuple[float, float], slo: ZoneOutageSlo, data: RunData,
                             warn_ratio: float) -> Check:
    lost, back = span
    before = state_at(samples, lost)
    if before is None:
        return Check(Status.INCONCLUSIVE, f"{key}: no sample before the zone was lost")
    want = _minimum(before)
    times = sorted({lost, *(s.t for s in samples), *(p.t for p in placements), *(n.t for n in tl.nodes)})
    window = [t for t in times if lost <= t < back]
    counts = [_Count(t, surviving_ready(samples, placements, tl, t)) for t in window]
    held = first_held(counts, lost, lambda c: c.ready >= want)  # no count after `back`: held to it
    hit = held[0] if held else None
    if hit is None:
        lowest = min((c.ready for c in counts), default=0)
        if back - lost < slo.within_s:
            return Check(Status.INCONCLUSIVE, f"{key}: the zone was back {back - lost:.0f} s after it was lost, "
                         f"before the {slo.within_s:g} s limit, and {key} was not yet back to {want}")
        return not_reached(
            data, lost + slo.within_s,
            f"{key}: {lowest} ready replicas on the surviving zones after the zone was lost at {data.rel(lost)}, "
            f"never back to its minimum {want} within {slo.within_s:g} s",
            f"{key}: the run ended before it was back to {want} on the surviving zones",
        )
    took = hit - lost
    return timed(
        took, slo.within_s, warn_ratio,
        f"{key}: {want} ready replicas on the surviving zones {took:.0f} s after the zone was lost "
        f"(limit {slo.within_s:.0f} s)",
        f"{key} zone_recovery_s",
        [f"zone lost at {data.rel(lost)}; {key} back to {want} on the surviving zones at {data.rel(hit)}"],
    )
