"""NetworkPolicy rules: workloads no policy selects (their traffic is unrestricted)."""

from __future__ import annotations

from collections.abc import Iterator

from aideon_resilience.core.lint.model import (
    Finding,
    Inventory,
    LintContext,
    Severity,
    namespace_of,
    selector_matches,
)
from aideon_resilience.core.lint.rule import Rule


def _check_unselected(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for wl in inv.workloads:
        selected = any(
            namespace_of(np) == wl.namespace
            and selector_matches((np.get("spec") or {}).get("podSelector", {}), wl.pod_labels)
            for np in inv.network_policies
        )
        if not selected:
            yield NET_UNSELECTED.report(
                wl.obj,
                f"no NetworkPolicy in namespace {wl.namespace} selects its pods: all traffic is allowed",
            )


NET_UNSELECTED = Rule(
    "NET001", Severity.WARNING, "no NetworkPolicy selects the workload", _check_unselected,
    doc=(
        "No NetworkPolicy in the workload's namespace selects its pods, so all ingress and egress is "
        "allowed. Kept as a warning: it is isolation, not availability.\n\n"
        "Fix: a default-deny policy per namespace plus policies allowing the traffic each tier needs."
    ),
    upstream="kube-score pod-networkpolicy; kube-linter non-isolated-pod (opt-in).",
)

RULES = (NET_UNSELECTED,)
