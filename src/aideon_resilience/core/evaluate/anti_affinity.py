"""Anti-affinity SLOs: never two replicas of a required-spread workload on one node, and at the
end of the run its replicas span at least min(zones available, replicas) zones.

When workload samples carry `anti_affinity` (the pod template's hostname anti-affinity as the
sampler saw it), anything but `required` fails: the spread would then hold by luck, not by rule.
Zones available are those of the nodes whose last sample is ready and schedulable (all zones
seen in placements when nodes were not sampled). Pods left Pending are listed as evidence.
"""

from __future__ import annotations

from aideon_resilience.core.evaluate._common import Check, RunData, combine, limit_items
from aideon_resilience.core.evaluate.slo import AntiAffinitySlo
from aideon_resilience.core.evaluate.verdict import Figure, SloResult, Status
from aideon_resilience.core.evidence.timeline import PlacementSample, Timeline, matches


def evaluate_anti_affinity(slo: AntiAffinitySlo, data: RunData, warn_ratio: float) -> SloResult:
    def done(checks: list[Check]) -> SloResult:
        return combine(slo.id, "anti_affinity", slo.weight, slo.description, checks)

    tl = data.timeline
    if tl is None:
        return done([Check(Status.INCONCLUSIVE, "no timeline file")])
    series = {k: v for k, v in tl.placement_series().items() if matches(k, slo.workloads)}
    if not series:
        return done(
            [Check(Status.INCONCLUSIVE, f"no placement sample matching {', '.join(slo.workloads)}")]
        )
    declared = {
        key: s.anti_affinity
        for key, ws in tl.workload_series().items()
        for s in ws
        if s.anti_affinity is not None and matches(key, slo.workloads)
    }
    checks: list[Check] = []
    for key, kind in sorted(declared.items()):
        if kind != "required":
            has = "no" if kind == "none" else kind
            checks.append(Check(Status.FAIL, f"{key}: pod template has {has} hostname anti-affinity, not required"))
    for key, samples in sorted(series.items()):
        checks.append(one_per_node(key, samples, data))
        if slo.zone_spread and slo.spread_after:
            ends = [(e.experiment, e.end) for e in tl.experiments if e.experiment in slo.spread_after]
            if not ends:
                checks.append(Check(Status.INCONCLUSIVE, f"{key}: none of {', '.join(slo.spread_after)} ran"))
            for name, end in ends:
                checks.append(_zone_spread(key, [p for p in samples if p.t <= end], tl, data, end, f"after {name}"))
        elif slo.zone_spread:
            checks.append(_zone_spread(key, samples, tl, data))
        if slo.max_pending_s is not None:
            checks.append(_pending(key, tl, data, slo.max_pending_s))
    return done(checks)


def _pending(key: str, tl: Timeline, data: RunData, limit_s: float) -> Check:
    """The longest stretch with a pod of the workload Pending stays under the limit."""
    longest, since_at = 0.0, None
    worst_at: float | None = None
    for s in tl.pending_series().get(key, []):
        if s.pods > 0 and since_at is None:
            since_at = s.t
        elif s.pods == 0 and since_at is not None:
            if s.t - since_at > longest:
                longest, worst_at = s.t - since_at, since_at
            since_at = None
    if since_at is not None and data.data_end() - since_at > longest:
        longest, worst_at = data.data_end() - since_at, since_at
    figures = {f"{key} longest pending s": Figure(value=round(longest, 1), limit=limit_s)}
    if longest > limit_s and worst_at is not None:
        return Check(Status.FAIL, f"{key}: a pod stayed Pending {longest:.0f}s from {data.rel(worst_at)} "
                     f"(limit {limit_s:g}s)", figures=figures)
    return Check(Status.PASS, f"{key}: no pod Pending longer than {limit_s:g}s (longest {longest:.0f}s)",
                 figures=figures)


def one_per_node(key: str, samples: list[PlacementSample], data: RunData) -> Check:
    doubled = [s for s in samples if s.pods >= 2]
    most = max((s.pods for s in samples), default=0)
    figures = {f"{key} max_pods_per_node": Figure(value=most)}
    if doubled:
        items = [f"{s.pods} replicas on node {s.node} at {data.rel(s.t)}" for s in doubled]
        first = doubled[0]
        return Check(
            Status.FAIL,
            f"{key}: {first.pods} replicas on node {first.node} at {data.rel(first.t)} "
            f"({len({s.node for s in doubled})} node(s) doubled up)",
            figures=figures,
            items=limit_items(items, 10),
        )
    return Check(Status.PASS, f"{key}: never two replicas on one node", figures=figures)


def _zone_spread(
    key: str,
    samples: list[PlacementSample],
    tl: Timeline,
    data: RunData,
    at: float | None = None,
    when: str = "at the end",
) -> Check:
    """Replicas span as many zones as they can `at` a time (default: the end of the run)."""
    current: dict[str, int] = {}
    for s in samples:
        current[s.node] = s.pods
    running = {node: pods for node, pods in current.items() if pods > 0}
    replicas = sum(running.values())
    zones = tl.node_zones()
    unknown = sorted(node for node in running if not zones.get(node))
    if unknown:
        return Check(Status.INCONCLUSIVE, f"{key}: zone of node {unknown[0]} unknown")
    last_node: dict[str, tuple[bool, bool, str | None]] = {}
    for n in tl.nodes:
        if at is None or n.t <= at:
            last_node[n.name] = (n.ready, n.unschedulable, n.zone or zones.get(n.name))
    if last_node:
        available = {z for ready, cordoned, z in last_node.values() if ready and not cordoned and z}
    else:
        available = {z for z in zones.values() if z}
    spanned = {z for node in running if (z := zones.get(node))}
    need = min(len(available), replicas)
    pending = tl.pending_series().get(key)
    items = [f"{when}: {replicas} replicas on {len(running)} nodes in zones {', '.join(sorted(spanned))}"]
    if at is None and pending and pending[-1].pods > 0:
        items.append(f"{pending[-1].pods} pods Pending at the end (since {data.rel(pending[-1].t)})")
    figures = {f"{key} zones": Figure(value=len(spanned), limit=need, better="higher")}
    if replicas == 0:
        return Check(Status.INCONCLUSIVE, f"{key}: no running replica {when}", items=items)
    if len(spanned) >= need:
        return Check(
            Status.PASS,
            f"{key}: replicas span {len(spanned)} zone(s) {when} (needed {need})",
            figures=figures,
            items=items,
        )
    return Check(
        Status.FAIL,
        f"{key}: replicas span {len(spanned)} zone(s) {when}, needed {need} "
        f"({replicas} replicas, {len(available)} zones available)",
        figures=figures,
        items=items,
    )
