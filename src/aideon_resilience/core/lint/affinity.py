"""Pod anti-affinity rules: required spreading the declared cluster cannot hold.

A required anti-affinity term whose selector matches the workload's own pods puts at most one
replica per topology domain (node for `kubernetes.io/hostname`, zone for the zone keys). At the
HPA's maximum the workload then needs that many domains; with fewer, the surplus stays Pending.
With exactly as many nodes as replicas, a drain at full scale leaves one replica Pending.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aideon_resilience.core.lint.model import (
    HOSTNAME_KEY,
    ZONE_KEYS,
    Finding,
    Inventory,
    LintContext,
    Severity,
    Workload,
    selector_matches,
)
from aideon_resilience.core.lint.rule import Rule


def _term_matches_self(term: Mapping[str, Any], wl: Workload) -> bool:
    namespaces = term.get("namespaces") or []
    if namespaces and wl.namespace not in namespaces and term.get("namespaceSelector") is None:
        return False
    selector = term.get("labelSelector")
    if selector is None:
        return False
    # matchLabelKeys adds "key In (own value)" requirements, which the pod itself always meets.
    return selector_matches(selector, wl.pod_labels)


def required_self_anti_affinity_keys(wl: Workload) -> set[str]:
    """Topology keys of required anti-affinity terms that repel the workload's own replicas."""
    anti = ((wl.pod_spec.get("affinity") or {}).get("podAntiAffinity")) or {}
    terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution") or []
    return {
        str(term.get("topologyKey"))
        for term in terms
        if isinstance(term, Mapping) and _term_matches_self(term, wl)
    }


def spread_keys(wl: Workload) -> set[str]:
    """Topology keys over which the workload spreads its own replicas: pod anti-affinity terms
    (required or preferred) and topology spread constraints whose selector matches its pods."""
    anti = ((wl.pod_spec.get("affinity") or {}).get("podAntiAffinity")) or {}
    terms: list[Any] = list(anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
    terms += [
        t.get("podAffinityTerm") for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        if isinstance(t, Mapping)
    ]
    keys = {str(t.get("topologyKey")) for t in terms if isinstance(t, Mapping) and _term_matches_self(t, wl)}
    for c in wl.pod_spec.get("topologySpreadConstraints") or []:
        if isinstance(c, Mapping) and selector_matches(c.get("labelSelector"), wl.pod_labels):
            keys.add(str(c.get("topologyKey")))
    return keys


def _multi_replica(inv: Inventory) -> Iterator[Workload]:
    for wl in inv.workloads:
        if wl.kind in ("Deployment", "StatefulSet") and (wl.max_replicas or 0) >= 2:
            yield wl


def _check_no_node_spread(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for wl in _multi_replica(inv):
        if HOSTNAME_KEY not in spread_keys(wl):
            yield AFF_NO_NODE_SPREAD.report(
                wl.obj,
                f"runs up to {wl.max_replicas} replicas with neither pod anti-affinity nor a topology spread "
                f"on {HOSTNAME_KEY}: all of them may land on one node and go down with it",
            )


def _check_no_zone_spread(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    if ctx.zones is None or ctx.zones < 2:
        return
    for wl in _multi_replica(inv):
        if not spread_keys(wl) & ZONE_KEYS:
            yield AFF_NO_ZONE_SPREAD.report(
                wl.obj,
                f"runs up to {wl.max_replicas} replicas with neither pod anti-affinity nor a topology spread "
                f"on topology.kubernetes.io/zone in a cluster of {ctx.zones} zones: "
                "all of them may land in one zone and go down with it",
            )


def _check_spread_counts_old_revision(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for wl in _multi_replica(inv):
        if wl.kind != "Deployment":
            continue
        for c in wl.pod_spec.get("topologySpreadConstraints") or []:
            if not isinstance(c, Mapping) or not selector_matches(c.get("labelSelector"), wl.pod_labels):
                continue
            if "pod-template-hash" not in (c.get("matchLabelKeys") or []):
                yield AFF_SPREAD_ACROSS_REVISIONS.report(
                    wl.obj,
                    f"its topology spread on {c.get('topologyKey')} counts the old ReplicaSet's pods "
                    "during a rolling update (no matchLabelKeys [pod-template-hash]): the new pods are "
                    "placed against pods about to go, and the rollout can leave them packed",
                )


def _peak(wl: Workload) -> tuple[int, str] | None:
    peak = wl.max_replicas
    if peak is None:
        return None
    source = "HPA maxReplicas" if wl.hpa is not None else "replicas"
    return peak, source


def _check_domains(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for wl in inv.workloads:
        peak = _peak(wl)
        if peak is None:
            continue
        replicas, source = peak
        keys = required_self_anti_affinity_keys(wl)
        if HOSTNAME_KEY in keys and replicas > ctx.nodes:
            yield AFF_TOO_FEW_DOMAINS.report(
                wl.obj,
                f"required anti-affinity on {HOSTNAME_KEY} needs {replicas} nodes at {source} {replicas} "
                f"but the cluster has {ctx.nodes}: {replicas - ctx.nodes} replica(s) would stay Pending",
            )
        zone_keys = keys & ZONE_KEYS
        if zone_keys and ctx.zones is not None and replicas > ctx.zones:
            yield AFF_TOO_FEW_DOMAINS.report(
                wl.obj,
                f"required anti-affinity on {sorted(zone_keys)[0]} needs {replicas} zones at {source} "
                f"{replicas} but the cluster has {ctx.zones}: "
                f"{replicas - ctx.zones} replica(s) would stay Pending",
            )


def _check_no_headroom(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for wl in inv.workloads:
        peak = _peak(wl)
        if peak is None:
            continue
        replicas, source = peak
        if HOSTNAME_KEY in required_self_anti_affinity_keys(wl) and replicas == ctx.nodes:
            yield AFF_NO_HEADROOM.report(
                wl.obj,
                f"{source} {replicas} equals the node count under required {HOSTNAME_KEY} anti-affinity: "
                "draining a node at full scale leaves a replica Pending",
            )


AFF_TOO_FEW_DOMAINS = Rule(
    "AFF001", Severity.ERROR,
    "required anti-affinity needs more topology domains (nodes/zones) than the cluster has at peak replicas",
    _check_domains,
    doc=(
        "A required pod anti-affinity term that repels the workload's own pods puts at most one replica "
        "in each node (`kubernetes.io/hostname`) or zone. At the HPA maximum (else spec.replicas) the "
        "workload needs that many nodes or zones; with fewer, the surplus replicas stay Pending exactly "
        "when the load needs them. The node and zone counts come from `--nodes` or the environment's "
        "cluster-shape.yaml.\n\n"
        "Fix: a maxReplicas within the node count, more nodes, or a preferred term / topology spread "
        "with `whenUnsatisfiable: ScheduleAnyway`."
    ),
    upstream="none: neither tool knows the cluster's size.",
)
AFF_NO_HEADROOM = Rule(
    "AFF002", Severity.WARNING,
    "peak replicas equal the node count under required hostname anti-affinity (no drain headroom)",
    _check_no_headroom,
    doc=(
        "With exactly as many nodes as replicas at peak, every node holds one replica; draining or "
        "losing a node at full scale leaves its replica Pending until the node returns.\n\n"
        "Fix: a maxReplicas below the node count, or one more node."
    ),
    upstream="none.",
)
AFF_NO_NODE_SPREAD = Rule(
    "AFF003", Severity.WARNING, "multi-replica workload not spread over nodes", _check_no_node_spread,
    doc=(
        "A Deployment or StatefulSet that runs two or more replicas with neither pod anti-affinity "
        "(required or preferred) nor a topology spread constraint on `kubernetes.io/hostname` selecting "
        "its own pods. The scheduler's default spreading is a score, not a rule: under pressure all "
        "replicas can share one node, and that node's loss is an outage.\n\n"
        "Fix: a `topologySpreadConstraints` entry on kubernetes.io/hostname (maxSkew 1), or preferred "
        "pod anti-affinity on the same key."
    ),
    upstream="kube-score deployment-has-host-podantiaffinity and statefulset-has-host-podantiaffinity "
    "(anti-affinity only); kube-linter no-anti-affinity. We also accept a topology spread constraint.",
)
AFF_NO_ZONE_SPREAD = Rule(
    "AFF004", Severity.WARNING, "multi-replica workload not spread over zones", _check_no_zone_spread,
    doc=(
        "Like AFF003 for zones, and only where the cluster shape declares two or more zones: no pod "
        "anti-affinity and no topology spread on `topology.kubernetes.io/zone`. Losing one zone may take "
        "every replica.\n\n"
        "Fix: a topology spread constraint on topology.kubernetes.io/zone (maxSkew 1, "
        "`whenUnsatisfiable: ScheduleAnyway` unless every zone has room for its share)."
    ),
    upstream="none: kube-score pod-topology-spread-constraints only validates constraints that exist.",
)

AFF_SPREAD_ACROSS_REVISIONS = Rule(
    "AFF005", Severity.WARNING, "topology spread counts the previous revision's pods during a rollout",
    _check_spread_counts_old_revision,
    doc=(
        "A Deployment's topology spread constraint without `matchLabelKeys: [pod-template-hash]` counts "
        "every pod its selector matches, old ReplicaSet included. During a rolling update each new pod "
        "is placed to balance old and new pods together, then the Deployment controller deletes old "
        "pods in an order that ignores zones: the finished rollout can hold two new replicas in one "
        "zone and none in another, and the scheduler never moves them back. Seen in this project's "
        "gate: three gateway replicas over zones a, b, c became c, c, a after a rollout, and the next "
        "node drain left them in two zones.\n\n"
        "Fix: `matchLabelKeys: [pod-template-hash]` on the constraint (Kubernetes 1.27+ by default), so "
        "each ReplicaSet's pods are spread among themselves."
    ),
    upstream="none: kube-score pod-topology-spread-constraints checks a constraint's fields, not its "
    "keys; kube-linter has no such check.",
)

RULES = (AFF_TOO_FEW_DOMAINS, AFF_NO_HEADROOM, AFF_NO_NODE_SPREAD, AFF_NO_ZONE_SPREAD,
         AFF_SPREAD_ACROSS_REVISIONS)
