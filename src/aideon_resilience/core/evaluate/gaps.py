"""Evidence gaps: an SLO whose evidence stream went blind during the run is never a pass.

The sampler writes an `evidence_gap` record when one of its watches failed and works again (the
API server restarting, a dropped connection). What happened in that stretch was not seen: a
replica count that dipped and came back, a budget breached, a pod placed next to its twin. So a
pass or a warning of an SLO family that reads a stream with a gap inside the run becomes
inconclusive, naming the gap; a failure stays a failure (it was seen outside the gap).
"""

from __future__ import annotations

from aideon_resilience.core.evaluate._common import RunData
from aideon_resilience.core.evaluate.verdict import SloResult, Status
from aideon_resilience.core.evidence.timeline import EvidenceGap

WORKLOADS = {"deployments", "statefulsets"}
#: SLO family -> the sampler's streams its evidence comes from
FAMILY_STREAMS: dict[str, set[str]] = {
    "hpa": {*WORKLOADS, "hpas"},
    "pdb": {"pdbs", "nodes"},
    "recovery": {*WORKLOADS},
    "anti_affinity": {"pods", "nodes"},
    "zone_capacity": {"pods", "nodes"},
    "plan_replicas": {*WORKLOADS, "hpas"},
}


def gaps_for(family: str, data: RunData) -> list[EvidenceGap]:
    """The gaps inside the run of the streams `family` reads, in time order."""
    streams = FAMILY_STREAMS.get(family, set())
    if data.timeline is None or not streams:
        return []
    end = data.t_end if data.t_end is not None else float("inf")
    return [g for g in data.timeline.gaps if g.stream in streams and g.start < end and g.t > data.t0]


def discount_gaps(result: SloResult, data: RunData) -> SloResult:
    """`result`, made inconclusive when it passed (or warned) over a gap in its evidence."""
    if result.status not in (Status.PASS, Status.WARN):
        return result
    gaps = gaps_for(result.family, data)
    if not gaps:
        return result
    told = [f"the {g.stream} watch was blind from {data.rel(g.start)} to {data.rel(g.t)}"
            + (f" ({g.reason})" if g.reason else "") for g in gaps]
    message = f"evidence gap: {told[0]}" + (f" and {len(told) - 1} more" if len(told) > 1 else "")
    evidence = result.evidence.model_copy(update={"items": [*result.evidence.items, *(f"[gap] {t}" for t in told)]})
    return result.model_copy(update={
        "status": Status.INCONCLUSIVE,
        "message": f"{message}; without it: {result.message}",
        "evidence": evidence,
    })
