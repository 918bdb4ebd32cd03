"""The rule docs, generated from the rules themselves: `lint --explain CODE` and docs/lint.md.

docs/lint.md is exactly `document()` (a test keeps it so); regenerate it with
`aideon-resilience lint --explain all > docs/lint.md`.
"""

from __future__ import annotations

from aideon_resilience.core.lint.registry import RULES, rule
from aideon_resilience.core.lint.rule import Rule
from aideon_resilience.core.lint.suppress import IGNORE, REASON

# Resilience-related checks of kube-score (README_CHECKS.md) and kube-linter (docs/generated/checks.md)
# this lint does not have, and why. Checks it has are named in each rule's "Compared with" line.
NOT_COVERED: tuple[tuple[str, str], ...] = (
    ("kube-score container-resources (limits), kube-linter unset-cpu-requirements / "
     "unset-memory-requirements (limits)",
     "We require requests (WKL002), not limits: CPU limits throttle a service exactly under the load "
     "the HPA is meant to absorb, and memory limits are a per-service decision."),
    ("kube-score pod-probes (liveness part), kube-linter no-liveness-probe",
     "A missing liveness probe is safer than a wrong one (see WKL003); only readiness is required."),
    ("kube-linter minimum-three-replicas, hpa-minimum-three-replicas",
     "Opt-in there, threshold 3. Two replicas survive one failure; three is a quorum rule for stateful "
     "systems, not a general one. REP001 uses 2 and can be suppressed per object with a reason."),
    ("kube-score deployment-strategy, kube-linter no-rolling-update-strategy",
     "Recreate is a legitimate choice (a single replica with a ReadWriteOnce volume). What matters is "
     "how many replicas a release takes down against the budget: PDB005 checks that, Recreate included."),
    ("kube-linter pdb-unhealthy-pod-eviction-policy",
     "Not yet covered. `unhealthyPodEvictionPolicy: AlwaysAllow` lets drains evict crash-looping pods; "
     "the drain analysis assumes healthy pods, so it cannot say when the field matters."),
    ("kube-score pod-topology-spread-constraints (validity)",
     "The API server rejects invalid constraints (maxSkew 0, no topologyKey); we check that spreading "
     "exists (AFF003, AFF004) and can hold (AFF001, ZON001)."),
    ("kube-score service-targets-pod, kube-linter dangling-service, kube-score networkpolicy-targets-pod",
     "Not yet covered: a Service or policy selecting nothing is a wiring error rather than a resilience "
     "contradiction; the gate's smoke checks see it at deploy."),
    ("kube-linter liveness-port, readiness-port, startup-port",
     "Not yet covered: a probe on an undeclared named port fails at runtime; numeric ports cannot be "
     "checked statically."),
    ("kube-score deployment-pod-selector-labels-match-template-metadata-labels, kube-linter "
     "mismatching-selector, kube-score statefulset-has-servicename",
     "The API server rejects these objects; schema validation (tests/manifests) catches them first."),
    ("kube-linter priority-class-name, no-node-affinity",
     "Opt-in there and cluster-specific: which classes exist and which nodes a pool has are not in the "
     "manifests."),
    ("kube-score cronjob-has-deadline, kube-linter job-ttl-seconds-after-finished",
     "Batch hygiene, not availability of a serving path."),
)

ANALYSES = (
    "Drain feasibility at the minimum and at the peak (DRN001): which budget blocks a node drain, and "
    "how many nodes can be drained at once.",
    "Zone-loss feasibility (ZON001, ZON002): after losing the largest zone, can required anti-affinity "
    "and the remaining capacity still place each workload's HPA minimum and its peak.",
    "Quota feasibility (QUO001): the namespace ResourceQuota against the HPA maxima times the requests.",
    "Required anti-affinity against the declared cluster's nodes and zones (AFF001, AFF002), budgets "
    "at the HPA minimum (PDB001), rollouts against budgets (PDB005), HPA metrics against requests "
    "(HPA004), storage classes against the overlay (STS001).",
)


def explain(r: Rule) -> str:
    """One rule's doc as markdown (what `lint --explain CODE` prints)."""
    return (
        f"### {r.code}: {r.title}\n\n"
        f"Severity: {r.severity.value}.\n\n"
        f"{r.doc}\n\n"
        f"Compared with: {r.upstream}\n"
    )


def explain_code(code: str) -> str:
    return explain(rule(code))


def document() -> str:
    """docs/lint.md."""
    table = "\n".join(f"| [`{r.code}`](#{r.code.lower()}) | {r.severity.value} | {r.title} |" for r in RULES)
    rules = "\n".join(explain(r) for r in RULES)
    not_covered = "\n".join(f"- **{check}**: {why}" for check, why in NOT_COVERED)
    analyses = "\n".join(f"- {a}" for a in ANALYSES)
    return f"""# Resilience lint rules

<!-- Generated from src/aideon_resilience/core/lint (each rule's doc and comparison). Do not edit:
     regenerate with `aideon-resilience lint --explain all > docs/lint.md`. -->

`aideon-resilience lint PATH... [--nodes N] [--format text|json|sarif] [--disable CODE]...`
renders each PATH (a kustomize directory or a YAML file) and reports findings against the
declared cluster shape (`cluster-shape.yaml` of the environment, or `--nodes`).
`aideon-resilience lint --explain CODE` prints one rule's section below; `--explain all` prints
this page. Exit 0 without counted error findings, 1 with at least one, 2 on unusable input.

## Suppressions

Per object, with a reason that is required:

```yaml
metadata:
  annotations:
    {IGNORE}: "REP001,AFF003"
    {REASON}: "leader-elected controller: a second replica only waits for the lease"
```

Per run: `--disable CODE` (repeatable). A suppressed finding is still listed (text: a
`suppressed` line with who suppressed it and why; JSON: a `suppressed` object; SARIF: a
`suppressions` entry), it only does not count toward the exit code. An ignore annotation without
a reason suppresses nothing and is an error itself (LNT001).

## What only this lint does

{analyses}

## Rules

| Code | Severity | Rule |
|---|---|---|
{table}

{rules}
## Compared with kube-score and kube-linter

Each rule above names the kube-score and kube-linter checks it corresponds to. Their
resilience-related checks this lint deliberately does not have (security, image and RBAC checks
are left to them):

{not_covered}
"""
