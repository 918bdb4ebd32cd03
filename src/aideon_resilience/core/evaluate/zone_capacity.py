"""`zone_capacity`: after a zone outage, the surviving zones carry what the plan needs.

The replicas that count are those Ready *on nodes that are Ready*: a pod on a lost node may
still be reported Ready until the node lifecycle controller or an eviction catches up, and it
carries nothing. From `within_s` after the outage action until the zone comes back (the
experiment's end), each matched workload must keep at least the replicas the plan needed at the
outage (less the HPA's tolerance, and at most what it could have: its HPA maximum or fixed
count) on the surviving nodes. The verdict names each workload that falls short and by how much.
"""

from __future__ import annotations

from aideon_resilience.core.evaluate._common import Check, RunData, combine, limit_items, state_at
from aideon_resilience.core.evaluate.plan_replicas import lowest_acceptable, need_at
from aideon_resilience.core.evaluate.slo import ZoneCapacitySlo
from aideon_resilience.core.evaluate.verdict import Figure, SloResult, Status
from aideon_resilience.core.evidence.timeline import PlacementSample, Timeline, WorkloadSample, matches


def _ready_nodes(tl: Timeline, t: float) -> set[str]:
    return {name for name, ready in tl.node_readiness_at(t).items() if ready}


def surviving_ready(samples: list[WorkloadSample], placements: list[PlacementSample], tl: Timeline,
                    t: float) -> int:
    """Ready replicas at `t` that run on Ready nodes (at most the Ready count, at most those placed there)."""
    at = state_at(samples, t)
    if at is None:
        return 0
    nodes = _ready_nodes(tl, t)
    per_node: dict[str, int] = {}
    for p in placements:
        if p.t > t:
            break
        per_node[p.node] = p.pods
    return min(at.ready, sum(pods for node, pods in per_node.items() if node in nodes))


def _capacity(key: str, samples: list[WorkloadSample], placements: list[PlacementSample], tl: Timeline,
              want: int, since: float, until: float, slo: ZoneCapacitySlo, data: RunData) -> Check:
    start = since + slo.within_s
    times = sorted({start, *(s.t for s in samples), *(p.t for p in placements), *(n.t for n in tl.nodes)})
    window = [t for t in times if start <= t < until]
    lowest = min((surviving_ready(samples, placements, tl, t), t) for t in window)
    figures = {f"{key} surviving ready after outage": Figure(value=lowest[0], limit=want, better="higher")}
    if lowest[0] >= want:
        return Check(Status.PASS, f"{key}: at least {lowest[0]} ready replicas on the surviving zones from "
                     f"{slo.within_s:g}s after the outage (the plan needs {want})", figures=figures)
    return Check(
        Status.FAIL,
        f"{key}: {lowest[0]} ready replicas on the surviving zones at {data.rel(lowest[1])}, "
        f"{lowest[1] - since:.0f}s after the outage; the plan needs {want} (short by {want - lowest[0]})",
        figures=figures,
    )


def evaluate_zone_capacity(slo: ZoneCapacitySlo, data: RunData, warn_ratio: float) -> SloResult:
    tl = data.timeline
    checks: list[Check] = []
    outages = tl.activities(slo.experiment, slo.outage_activity) if tl is not None else []
    if tl is None or not tl.modelled:
        checks.append(Check(Status.INCONCLUSIVE, "no modelled load recorded (not a rehearsal, or it never started)"))
    elif not outages:
        checks.append(Check(Status.INCONCLUSIVE, f"no {slo.outage_activity!r} action of {slo.experiment} ran"))
    else:
        since = outages[0].end
        run = tl.experiment(slo.experiment)
        until = run.end if run is not None else data.data_end()
        if until - since <= slo.within_s:
            checks.append(Check(Status.INCONCLUSIVE, f"the zone was lost for {until - since:.0f}s, not longer than "
                                f"the {slo.within_s:g}s limit: nothing to judge"))
        else:
            checks += _workloads(tl, slo, since, until, data)
    result = combine(slo.id, slo.family, slo.weight, slo.description, checks)
    result.evidence.items[:] = limit_items(result.evidence.items, 40)
    return result


def _workloads(tl: Timeline, slo: ZoneCapacitySlo, since: float, until: float, data: RunData) -> list[Check]:
    names = {n for m in tl.modelled for n in m.needed}
    placements = tl.placement_series()
    checks = []
    for key, samples in sorted(tl.workload_series().items()):
        name = key.rsplit("/", 1)[-1]
        need = need_at(tl.modelled, since, name)
        if not matches(key, slo.workloads) or name not in names or need is None:
            continue
        bound = max((s.hpa_max if s.hpa_max is not None else s.replicas) for s in samples)
        want = min(lowest_acceptable(need[0], slo.tolerance), bound)
        checks.append(_capacity(key, samples, placements.get(key, []), tl, want, since, until, slo, data))
    return checks or [Check(Status.INCONCLUSIVE, f"no workload matches {', '.join(slo.workloads)}")]
