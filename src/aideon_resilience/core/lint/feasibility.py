"""Feasibility analyses against the declared cluster shape: node drains, zone loss, quotas.

Nodes are interchangeable (a cluster shape declares one node size) and placement is the worst
the workload's own constraints allow: with required hostname anti-affinity each node holds at
most one replica; without it, all replicas may sit on the nodes being drained. The scales are
the HPA minimum and the peak (the HPA maximum, else spec.replicas).

- Drains: a drain evicts through the budget; a replica whose replacement can be placed refills
  it, one that cannot (required anti-affinity with no free node left) uses it up. A drain of k
  nodes at once completes when the unplaceable evictions fit in the budget, and the replicas of
  all workloads fit on the other nodes (CPU and memory requests against allocatable).
- Zone loss: the largest zone's nodes go (nodes spread evenly over the zones); required
  anti-affinity must still place each workload's minimum (error) and its peak (warning) on
  what is left.
- Quotas: a namespace's ResourceQuota must hold every workload at its HPA maximum.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from aideon_resilience.core.lint.affinity import required_self_anti_affinity_keys
from aideon_resilience.core.lint.model import (
    HOSTNAME_KEY,
    ZONE_KEYS,
    Finding,
    Inventory,
    KubeObject,
    LintContext,
    Severity,
    Workload,
    namespace_of,
    quantity,
)
from aideon_resilience.core.lint.pdb import allowed_disruptions, budget_text
from aideon_resilience.core.lint.rule import Rule

SCALES = ("minimum", "peak")


def _replicas(wl: Workload, scale: str) -> int | None:
    return wl.min_replicas if scale == "minimum" else wl.max_replicas


def _budget(inv: Inventory, wl: Workload, scale: str) -> tuple[KubeObject, int] | None:
    """The tightest PDB over the workload and the evictions it allows at that scale."""
    tightest: tuple[KubeObject, int] | None = None
    for pdb in inv.pdbs_for(wl):
        covered = [_replicas(w, scale) for w in inv.selected_workloads(pdb)]
        if any(c is None for c in covered):
            continue
        allowed = allowed_disruptions(pdb, sum(c for c in covered if c is not None))
        if allowed is not None and (tightest is None or allowed < tightest[1]):
            tightest = (pdb, allowed)
    return tightest


def _unplaceable(wl: Workload, replicas: int, drained: int, nodes: int) -> int:
    """Evicted replicas whose replacement finds no node (worst placement) when `drained` nodes go."""
    if HOSTNAME_KEY not in required_self_anti_affinity_keys(wl):
        return 0  # capacity is checked for the whole cluster
    evicted = min(drained, replicas)
    free = (nodes - drained) - (replicas - evicted)
    return max(0, evicted - max(free, 0))


def _workload_drain_limit(inv: Inventory, wl: Workload, scale: str, nodes: int) -> int:
    """How many nodes can be drained at once as far as this workload and its budget go."""
    replicas, budget = _replicas(wl, scale), _budget(inv, wl, scale)
    if not replicas or budget is None:
        return nodes
    allowed = max(budget[1], 0)
    if allowed == 0:
        return 0
    limit = 0
    for k in range(1, nodes + 1):
        if _unplaceable(wl, replicas, k, nodes) > allowed:
            break
        limit = k
    return limit


def _pod_requests(wl: Workload) -> tuple[float, float]:
    return (wl.pod_request("cpu") or 0.0) * 1000, (wl.pod_request("memory") or 0.0) / 2**20


def _capacity_limit(inv: Inventory, ctx: LintContext, scale: str) -> int | None:
    """Most nodes that can be out while every workload's replicas at that scale fit on the rest."""
    if ctx.node_cpu_millis is None or ctx.node_memory_mib is None:
        return None
    cpu = mem = 0.0
    for wl in inv.workloads:
        replicas = _replicas(wl, scale) if wl.scalable else (ctx.nodes if wl.kind == "DaemonSet" else 0)
        c, m = _pod_requests(wl)
        cpu, mem = cpu + c * (replicas or 0), mem + m * (replicas or 0)
    for k in range(ctx.nodes, -1, -1):
        left = ctx.nodes - k
        if cpu <= left * ctx.node_cpu_millis and mem <= left * ctx.node_memory_mib:
            return k
    return 0


@dataclass(frozen=True)
class DrainLimit:
    scale: str
    nodes: int  # nodes that can be drained at once (0: no drain completes)
    limited_by: str


def drain_limits(inv: Inventory, ctx: LintContext) -> list[DrainLimit]:
    """For the minimum and the peak: how many nodes can be drained at once, and what limits it."""
    out: list[DrainLimit] = []
    for scale in SCALES:
        best, reason = ctx.nodes, "the node count"
        capacity = _capacity_limit(inv, ctx, scale)
        if capacity is not None and capacity < best:
            best, reason = capacity, "CPU and memory requests against the remaining nodes' allocatable"
        for wl in inv.workloads:
            limit = _workload_drain_limit(inv, wl, scale, ctx.nodes)
            if limit < best:
                budget = _budget(inv, wl, scale)
                assert budget is not None  # a limit below the node count comes from a budget
                best, reason = limit, f"{wl.display} under PodDisruptionBudget/{budget[0]['metadata']['name']}"
        out.append(DrainLimit(scale, best, reason))
    return out


def _check_drain_blocked(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for scale in SCALES:
        if _capacity_limit(inv, ctx, scale) != 0:
            continue
        protected = [(wl, b) for wl in inv.workloads if wl.scalable and (b := _budget(inv, wl, scale)) is not None]
        if not protected:
            continue  # without budgets a drain completes, leaving the evicted pods Pending
        wl, (pdb, allowed) = min(protected, key=lambda p: p[1][1])
        yield DRN_BLOCKED.report(
            wl.obj,
            f"at the {scale} the requests of all workloads need all {ctx.nodes} nodes: pods evicted by a drain "
            f"stay Pending, so draining a node holding more than {max(allowed, 0)} of its replicas blocks on "
            f"PodDisruptionBudget/{pdb['metadata']['name']} ({budget_text(pdb)})",
        )
        return


def _zone_loss(ctx: LintContext) -> tuple[int, int] | None:
    if ctx.zones is None or ctx.zones < 2:
        return None
    return ctx.nodes - ctx.nodes_per_zone, ctx.zones - 1


def _zone_loss_shortfall(wl: Workload, replicas: int, left: tuple[int, int], ctx: LintContext) -> str | None:
    keys = required_self_anti_affinity_keys(wl)
    nodes_left, zones_left = left
    if HOSTNAME_KEY in keys and nodes_left < replicas <= ctx.nodes:
        return f"required {HOSTNAME_KEY} anti-affinity needs {replicas} nodes and {nodes_left} remain"
    if keys & ZONE_KEYS and zones_left < replicas <= (ctx.zones or 0):
        return f"required zone anti-affinity needs {replicas} zones and {zones_left} remain"
    return None


def _check_zone_loss(rule: Rule, scale: str, inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    left = _zone_loss(ctx)
    if left is None:
        return
    for wl in inv.workloads:
        replicas = _replicas(wl, scale)
        if not wl.scalable or not replicas:
            continue
        shortfall = _zone_loss_shortfall(wl, replicas, left, ctx)
        if shortfall is not None:
            yield rule.report(
                wl.obj,
                f"after losing a zone ({ctx.nodes_per_zone} of {ctx.nodes} nodes) its {scale} of {replicas} "
                f"replicas cannot be placed: {shortfall}",
            )


def _check_zone_loss_minimum(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    return _check_zone_loss(ZON_MINIMUM, "minimum", inv, ctx)


def _check_zone_loss_peak(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    return _check_zone_loss(ZON_PEAK, "peak", inv, ctx)


def zone_loss_capacity(inv: Inventory, ctx: LintContext) -> dict[str, bool] | None:
    """Whether every workload's replicas fit, by requests, on the nodes left after losing a zone."""
    left = _zone_loss(ctx)
    if left is None or ctx.node_cpu_millis is None or ctx.node_memory_mib is None:
        return None
    out: dict[str, bool] = {}
    for scale in SCALES:
        cpu = sum(_pod_requests(wl)[0] * (_replicas(wl, scale) or 0) for wl in inv.workloads if wl.scalable)
        mem = sum(_pod_requests(wl)[1] * (_replicas(wl, scale) or 0) for wl in inv.workloads if wl.scalable)
        out[scale] = cpu <= left[0] * ctx.node_cpu_millis and mem <= left[0] * ctx.node_memory_mib
    return out


_QUOTA_KEYS = {
    "requests.cpu": ("requests", "cpu"), "cpu": ("requests", "cpu"),
    "requests.memory": ("requests", "memory"), "memory": ("requests", "memory"),
    "limits.cpu": ("limits", "cpu"), "limits.memory": ("limits", "memory"),
}


def _pod_amount(wl: Workload, kind: str, resource: str) -> float:
    total = 0.0
    for c in wl.containers:
        total += quantity(((c.get("resources") or {}).get(kind) or {}).get(resource)) or 0.0
    return total


def _check_quota(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for quota in inv.quotas:
        spec = quota.get("spec") or {}
        if spec.get("scopes") or spec.get("scopeSelector"):
            continue  # scoped quotas count a subset of pods the lint cannot tell
        ns = namespace_of(quota)
        workloads = [wl for wl in inv.workloads if wl.namespace == ns and wl.scalable and wl.max_replicas]
        for key, hard in (spec.get("hard") or {}).items():
            limit = quantity(hard)
            if limit is None:
                continue
            if key in ("pods", "count/pods"):
                need = float(sum(wl.max_replicas or 0 for wl in workloads))
            elif key in _QUOTA_KEYS:
                kind, resource = _QUOTA_KEYS[key]
                need = sum(_pod_amount(wl, kind, resource) * (wl.max_replicas or 0) for wl in workloads)
            else:
                continue
            if need > limit * (1 + 1e-9):
                yield QUO_TOO_SMALL.report(
                    quota,
                    f"{key} {hard} is below the {_fmt(key, need)} the namespace's workloads need at their HPA "
                    "maxima: pods beyond the quota are rejected at admission and the HPA stalls",
                )


def _fmt(key: str, value: float) -> str:
    if key.endswith("memory") or key == "memory":
        return f"{value / 2**20:.0f}Mi"
    if key.endswith("cpu") or key == "cpu":
        return f"{value * 1000:.0f}m"
    return f"{value:.0f}"


DRN_BLOCKED = Rule(
    "DRN001", Severity.ERROR, "a single node drain cannot complete at the minimum or the peak",
    _check_drain_blocked,
    doc=(
        "Drain feasibility: at the minimum or the peak, the CPU or memory requests of all workloads "
        "(replicas times pod requests) do not fit on one node fewer than the declared cluster, so the "
        "pods a drain evicts cannot be placed again. A budget refills only when a replacement becomes "
        "ready: the drain blocks as soon as a node holds more of a protected workload's replicas than "
        "its budget allows (the finding names the tightest budget). Budgets that allow no eviction at "
        "all are PDB001. Needs a cluster shape with node allocatable. The text output also prints, for "
        "the minimum and the peak, how many nodes can be drained at once and what limits it (a budget "
        "under required anti-affinity, or the requests against the remaining nodes).\n\n"
        "Fix: one node of headroom at the peak (more nodes, smaller maxima or requests)."
    ),
    upstream="none: neither tool relates budgets to the HPA range or the cluster.",
)
ZON_MINIMUM = Rule(
    "ZON001", Severity.ERROR, "after losing a zone, required anti-affinity cannot place the HPA minimum",
    _check_zone_loss_minimum,
    doc=(
        "Zone-loss feasibility: with the largest zone gone (its share of the declared nodes, and one "
        "zone fewer), required pod anti-affinity on hostname or zone needs more nodes or zones than "
        "remain for the workload's minimum replica count, so the service runs below its floor for as "
        "long as the zone is out. Requires a cluster shape with at least two zones. The text output "
        "also says whether the requests of all workloads fit on the remaining nodes.\n\n"
        "Fix: a minimum that fits the nodes of the remaining zones, more nodes per zone, or a "
        "topology spread with `whenUnsatisfiable: ScheduleAnyway` instead of the required term."
    ),
    upstream="none.",
)
ZON_PEAK = Rule(
    "ZON002", Severity.WARNING, "after losing a zone, required anti-affinity cannot place the peak",
    _check_zone_loss_peak,
    doc=(
        "Like ZON001 for the peak (the HPA maximum): during a zone outage at peak load part of the "
        "replicas the HPA asks for stay Pending. A warning, as losing a zone at peak is a plan decision; "
        "AFF001 reports peaks the whole cluster cannot place.\n\n"
        "Fix: a maxReplicas within the nodes of the remaining zones, more nodes, or a preferred term."
    ),
    upstream="none.",
)
QUO_TOO_SMALL = Rule(
    "QUO001", Severity.ERROR, "namespace ResourceQuota below what the workloads need at their HPA maxima",
    _check_quota,
    doc=(
        "Quota feasibility: for each unscoped ResourceQuota, the sum over the namespace's Deployments, "
        "StatefulSets and ReplicaSets of maxReplicas times the pod's requests (or limits, or 1 pod) is "
        "compared with `requests.cpu`, `requests.memory`, `limits.cpu`, `limits.memory` and `pods`. "
        "Above the quota the API server rejects new pods and the HPA cannot reach its maximum; it shows "
        "only as FailedCreate events under load.\n\n"
        "Fix: raise the quota to the maxima (plus rollout surge), or lower the maxima."
    ),
    upstream="none.",
)

RULES: tuple[Rule, ...] = (DRN_BLOCKED, ZON_MINIMUM, ZON_PEAK, QUO_TOO_SMALL)


def notes(inv: Inventory, ctx: LintContext) -> list[str]:
    """One line each for the drain and zone-loss analyses (text output)."""
    parts = []
    for limit in drain_limits(inv, ctx):
        if limit.nodes == 0:
            parts.append(f"at the {limit.scale} no node drains without a budget blocking or pods left Pending "
                         f"({limit.limited_by})")
        else:
            parts.append(f"at the {limit.scale} up to {limit.nodes} of {ctx.nodes} node(s) at once "
                         f"(limited by {limit.limited_by})")
    lines = ["drains: " + "; ".join(parts)]
    capacity = zone_loss_capacity(inv, ctx)
    if capacity is not None:
        left = ctx.nodes - ctx.nodes_per_zone
        fits = [f"{'fit' if ok else 'do NOT fit'} at the {scale}" for scale, ok in capacity.items()]
        lines.append(f"zone loss: the requests of all workloads on the {left} nodes left after losing a zone "
                     f"{' and '.join(fits)}")
    return lines
