"""Service-mesh rules: replicated services behind a DestinationRule without outlier detection."""

from __future__ import annotations

from collections.abc import Iterator

from aideon_resilience.core.lint.deprecation import outlier_detections
from aideon_resilience.core.lint.model import (
    Finding,
    Inventory,
    KubeObject,
    LintContext,
    Severity,
    Workload,
    namespace_of,
)
from aideon_resilience.core.lint.rule import Rule


def _service_of(inv: Inventory, dr: KubeObject) -> KubeObject | None:
    """The Service a DestinationRule's host names: `svc`, `svc.ns` or `svc.ns.svc[.cluster.local]`."""
    host = str((dr.get("spec") or {}).get("host", ""))
    parts = host.split(".")
    name = parts[0]
    ns = parts[1] if len(parts) > 1 else namespace_of(dr)
    if len(parts) > 2 and parts[2] != "svc":
        return None  # an external host (ServiceEntry), not a Service of the cluster
    for svc in inv.services:
        if (svc.get("metadata") or {}).get("name") == name and namespace_of(svc) == ns:
            return svc
    return None


def _check_no_outlier_detection(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for dr in inv.destination_rules:
        if any(True for _ in outlier_detections(dr.get("spec") or {})):
            continue
        svc = _service_of(inv, dr)
        if svc is None:
            continue
        replicated: list[Workload] = [wl for wl in inv.service_workloads(svc) if (wl.max_replicas or 0) >= 2]
        if replicated:
            wl = replicated[0]
            yield OUT_MISSING.report(
                dr,
                f"host {(dr.get('spec') or {}).get('host')} is served by up to {wl.max_replicas} replicas of "
                f"{wl.display} and the rule has no outlierDetection: a failing replica keeps its share "
                "of the requests",
            )


OUT_MISSING = Rule(
    "OUT001", Severity.WARNING, "replicated service behind a DestinationRule without outlierDetection",
    _check_no_outlier_detection,
    doc=(
        "A DestinationRule whose host is a Service backed by a workload that runs two or more replicas, "
        "with no `outlierDetection` at the top level, per port or per subset. Without it the mesh keeps "
        "sending a failing or hung replica its share of the requests until its readiness probe fails, "
        "which takes periods, not milliseconds.\\n\\n"
        "Fix: `trafficPolicy.outlierDetection` with `consecutive5xxErrors`, `interval`, "
        "`baseEjectionTime` and a `maxEjectionPercent` that leaves enough replicas."
    ),
    upstream="none (neither tool reads Istio objects).",
)

RULES = (OUT_MISSING,)
