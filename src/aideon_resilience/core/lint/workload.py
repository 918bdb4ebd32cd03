"""Workload rules: single replicas, readiness probes (present, not the liveness check), resource
requests and security-context hardening."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aideon_resilience.core.lint.model import Finding, Inventory, LintContext, Severity, Workload
from aideon_resilience.core.lint.rule import Rule


def _containers(wl: Workload) -> list[Mapping[str, Any]]:
    return wl.containers


def _check_single_replica(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for wl in inv.workloads:
        if not wl.scalable or wl.min_replicas is None or wl.min_replicas >= 2:
            continue
        at = "HPA minReplicas" if wl.hpa is not None else "replicas"
        yield REP_SINGLE.report(
            wl.obj,
            f"runs {wl.min_replicas} replica at its minimum ({at} {wl.min_replicas}): a single point of "
            "failure that any pod kill, node loss or drain takes down",
        )


_HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")


def _handler(probe: Any) -> tuple[str, Any] | None:
    if not isinstance(probe, Mapping):
        return None
    for key in _HANDLERS:
        if key in probe:
            return key, probe[key]
    return None


def _check_identical_probes(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for wl in inv.workloads:
        for c in _containers(wl):
            ready, live = _handler(c.get("readinessProbe")), _handler(c.get("livenessProbe"))
            if ready is not None and ready == live:
                yield WKL_IDENTICAL_PROBES.report(
                    wl.obj,
                    f"container {c.get('name')!r} checks readiness and liveness with the same {ready[0]}: "
                    "an overloaded pod is restarted instead of taken out of rotation",
                )


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


REP_SINGLE = Rule(
    "REP001", Severity.WARNING, "workload runs a single replica at its minimum", _check_single_replica,
    doc=(
        "A Deployment, StatefulSet or ReplicaSet whose lowest replica count (the HPA's minReplicas where an "
        "HPA scales it, else spec.replicas) is below 2. One pod kill, node loss or drain is an outage "
        "until the replacement is ready; no PDB can protect it without blocking drains (see PDB001).\n\n"
        "Fix: at least 2 replicas (`minReplicas: 2`), spread over nodes (AFF003). Suppress it with a "
        "reason for workloads that are deliberately singletons (a leader-elected controller, a dev "
        "environment)."
    ),
    upstream="kube-score deployment-replicas (only Deployments behind a Service) and "
    "horizontalpodautoscaler-replicas; kube-linter minimum-three-replicas and hpa-minimum-three-replicas "
    "(opt-in, threshold 3). We use 2 and the HPA minimum for every scalable kind.",
)
WKL_NO_READINESS = Rule(
    "WKL001", Severity.ERROR, "serving workload container without a readinessProbe", _check_readiness,
    doc=(
        "Without a readiness probe a pod is an endpoint as soon as its containers start, so a rollout, "
        "a scale-out or a restarted pod receives traffic before it can serve it.\n\n"
        "Fix: a readinessProbe on every container of Deployments, StatefulSets, DaemonSets and ReplicaSets."
    ),
    upstream="kube-score pod-probes (only for pods behind a Service); kube-linter no-readiness-probe (opt-in).",
)
WKL_IDENTICAL_PROBES = Rule(
    "WKL003", Severity.WARNING, "readiness probe identical to the liveness probe", _check_identical_probes,
    doc=(
        "A container whose readiness and liveness probes run the same check (same httpGet, tcpSocket, exec "
        "or grpc handler). Under load the check fails for both at once: instead of being taken out of "
        "rotation until it recovers, the pod is restarted, and the load moves to the others, which then "
        "fail the same way (a cascading restart).\n\n"
        "Fix: a liveness check that only says the process is alive (`/health`), a readiness check that "
        "says it can serve now (`/ready`)."
    ),
    upstream="kube-score pod-probes-identical. kube-linter has no equivalent.",
)
WKL_NO_REQUESTS = Rule(
    "WKL002", Severity.ERROR, "workload container without CPU and memory requests", _check_requests,
    doc=(
        "Without CPU and memory requests the scheduler places pods as if they cost nothing (nodes are "
        "overcommitted, evictions under pressure pick them first) and an HPA on utilization cannot "
        "compute it (see HPA004).\n\nFix: requests for cpu and memory on every container."
    ),
    upstream="kube-score container-resources; kube-linter unset-cpu-requirements and "
    "unset-memory-requirements (both also require limits, which we do not: CPU limits throttle).",
)
SEC_HARDENING = Rule(
    "SEC001", Severity.WARNING,
    "container lacks security-context hardening (runAsNonRoot, no privilege escalation, read-only root, "
    "drop ALL, seccomp)",
    _check_hardening,
    doc=(
        "The Pod Security \"restricted\" profile's container settings: runAsNonRoot, "
        "allowPrivilegeEscalation false, a read-only root filesystem, all capabilities dropped and a "
        "RuntimeDefault (or Localhost) seccomp profile. A namespace enforcing \"restricted\" rejects "
        "the pods, which is a resilience problem as much as a security one.\n\n"
        "Fix: set them in the container (or pod) securityContext."
    ),
    upstream="kube-score container-security-context-*, container-seccomp-profile; kube-linter run-as-non-root, "
    "privilege-escalation-container, no-read-only-root-fs. Security checks beyond this one (host "
    "namespaces, mounts, RBAC) are left to those tools.",
)

RULES = (REP_SINGLE, WKL_NO_READINESS, WKL_NO_REQUESTS, WKL_IDENTICAL_PROBES, SEC_HARDENING)
