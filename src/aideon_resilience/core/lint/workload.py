"""Container rules: readiness probes, resource requests and security-context hardening."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aideon_resilience.core.lint.model import Finding, Inventory, LintContext, Severity, Workload
from aideon_resilience.core.lint.rule import Rule


def _containers(wl: Workload) -> list[Mapping[str, Any]]:
    return [c for c in wl.pod_spec.get("containers") or [] if isinstance(c, Mapping)]


def _check_readiness(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for wl in inv.workloads:
        if not wl.serving:  # a Job's pods are not endpoints; readiness means nothing there
            continue
        for c in _containers(wl):
            if not c.get("readinessProbe"):
                yield WKL_NO_READINESS.report(
                    wl.obj,
                    f"container {c.get('name')!r} has no readinessProbe: it gets traffic before it is ready",
                )


def _check_requests(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for wl in inv.workloads:
        for c in _containers(wl):
            requests = (c.get("resources") or {}).get("requests") or {}
            missing = [r for r in ("cpu", "memory") if r not in requests]
            if missing:
                yield WKL_NO_REQUESTS.report(
                    wl.obj,
                    f"container {c.get('name')!r} has no {' and '.join(missing)} request: the scheduler "
                    "cannot place it honestly and the HPA cannot compute utilization",
                )


def hardening_gaps(pod_spec: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    """Which of the restricted-profile hardening settings a container lacks (pod-level counts)."""
    pod_sc = pod_spec.get("securityContext") or {}
    sc = container.get("securityContext") or {}
    gaps: list[str] = []
    if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
        gaps.append("runAsNonRoot: true")
    if sc.get("allowPrivilegeEscalation") is not False:
        gaps.append("allowPrivilegeEscalation: false")
    if sc.get("readOnlyRootFilesystem") is not True:
        gaps.append("readOnlyRootFilesystem: true")
    if "ALL" not in [str(x) for x in ((sc.get("capabilities") or {}).get("drop") or [])]:
        gaps.append("capabilities.drop: [ALL]")
    seccomp = sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}
    if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
        gaps.append("seccompProfile RuntimeDefault")
    return gaps


def _check_hardening(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for wl in inv.workloads:
        for c in _containers(wl):
            gaps = hardening_gaps(wl.pod_spec, c)
            if gaps:
                yield SEC_HARDENING.report(
                    wl.obj, f"container {c.get('name')!r} lacks security-context hardening: {', '.join(gaps)}"
                )


WKL_NO_READINESS = Rule(
    "WKL001", Severity.ERROR, "serving workload container without a readinessProbe", _check_readiness
)
WKL_NO_REQUESTS = Rule(
    "WKL002", Severity.ERROR, "workload container without CPU and memory requests", _check_requests
)
SEC_HARDENING = Rule(
    "SEC001", Severity.WARNING,
    "container lacks security-context hardening (runAsNonRoot, no privilege escalation, read-only root, "
    "drop ALL, seccomp)",
    _check_hardening,
)

RULES = (WKL_NO_READINESS, WKL_NO_REQUESTS, SEC_HARDENING)
