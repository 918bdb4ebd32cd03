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
)
AFF_NO_HEADROOM = Rule(
    "AFF002", Severity.WARNING,
    "peak replicas equal the node count under required hostname anti-affinity (no drain headroom)",
    _check_no_headroom,
)

RULES = (AFF_TOO_FEW_DOMAINS, AFF_NO_HEADROOM)
