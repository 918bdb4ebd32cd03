"""Every lint rule fires on its failing fixture and stays silent on its passing one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aideon_resilience.core.lint import RULES, Finding, LintContext, Severity, analysis_notes, docs, lint, unknown_kinds
from aideon_resilience.core.lint.registry import rule

FIXTURES = Path(__file__).parent / "fixtures"
CONTEXT = LintContext(nodes=4, zones=3)
SMALL = LintContext(nodes=2, zones=None, node_cpu_millis=1000, node_memory_mib=4096)  # two 1-CPU nodes
CONTEXTS = {"drn001-fail.yaml": SMALL, "drn001-pass.yaml": SMALL}


def load(name: str) -> list[dict[str, Any]]:
    path = FIXTURES / name
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    if path.name == "kustomization.yaml":
        docs = [{**d, "metadata": {"name": str(path)}} for d in docs]
    return docs


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


# (failing fixture, code, kind/namespace/name it must name)
FAILING = [
    ("pdb001-fail.yaml", "PDB001", "PodDisruptionBudget/dev/api"),
    ("pdb001-fail-percent.yaml", "PDB001", "PodDisruptionBudget/dev/api"),
    ("pdb001-fail-maxunavailable.yaml", "PDB001", "PodDisruptionBudget/data/db"),
    ("pdb002-fail.yaml", "PDB002", "PodDisruptionBudget/shop/payments"),
    ("hpa001-fail.yaml", "HPA001", "HorizontalPodAutoscaler/green/search"),
    ("hpa002-fail.yaml", "HPA002", "HorizontalPodAutoscaler/green/search"),
    ("hpa003-fail.yaml", "HPA003", "Deployment/green/search"),
    ("aff001-fail.yaml", "AFF001", "Deployment/edge/gateway"),
    ("aff001-fail-zone.yaml", "AFF001", "StatefulSet/data/db"),
    ("aff002-fail.yaml", "AFF002", "Deployment/edge/gateway"),
    ("wkl001-fail.yaml", "WKL001", "Deployment/jobs/worker"),
    ("wkl002-fail.yaml", "WKL002", "Deployment/jobs/worker"),
    ("sec001-fail.yaml", "SEC001", "Deployment/shop/web"),
    ("net001-fail.yaml", "NET001", "Deployment/shop/web"),
    ("dep001-fail.yaml", "DEP001", "VirtualService/edge/gateway"),
    ("dep002-fail.yaml", "DEP002", "DestinationRule/edge/gateway"),
    ("kustomize-deprecated/kustomization.yaml", "DEP003", None),
    ("rep001-fail.yaml", "REP001", "Deployment/shop/cart"),
    ("pdb003-fail.yaml", "PDB003", "Deployment/shop/catalog"),
    ("pdb004-fail.yaml", "PDB004", "PodDisruptionBudget/shop/catalog"),
    ("pdb004-fail-minavailable.yaml", "PDB004", "PodDisruptionBudget/shop/catalog"),
    ("pdb005-fail.yaml", "PDB005", "Deployment/shop/catalog"),
    ("pdb005-fail-recreate.yaml", "PDB005", "Deployment/shop/catalog"),
    ("aff003-fail.yaml", "AFF003", "Deployment/shop/checkout"),
    ("aff004-fail.yaml", "AFF004", "Deployment/shop/checkout"),
    ("aff005-fail.yaml", "AFF005", "Deployment/shop/checkout"),
    ("hpa004-fail.yaml", "HPA004", "HorizontalPodAutoscaler/green/search"),
    ("hpa004-fail-default-cpu.yaml", "HPA004", "HorizontalPodAutoscaler/green/search"),
    ("wkl003-fail.yaml", "WKL003", "Deployment/shop/web"),
    ("out001-fail.yaml", "OUT001", "DestinationRule/shop/reviews"),
    ("sts001-fail.yaml", "STS001", "StatefulSet/data/db"),
    ("sts001-fail-no-default.yaml", "STS001", "StatefulSet/data/db"),
    ("sts002-fail.yaml", "STS002", "StatefulSet/data/db"),
    ("lnt001-fail.yaml", "LNT001", "Deployment/ops/leader"),
    ("lnt002-fail.yaml", "LNT002", "Deployment/ops/leader"),
    ("drn001-fail.yaml", "DRN001", "Deployment/data/indexer"),
    ("zon001-fail.yaml", "ZON001", "Deployment/edge/gateway"),
    ("zon002-fail.yaml", "ZON002", "Deployment/edge/gateway"),
    ("quo001-fail.yaml", "QUO001", "ResourceQuota/shop/compute"),
]
PASSING = [
    ("pdb001-pass.yaml", "PDB001"),
    ("pdb002-pass.yaml", "PDB002"),
    ("hpa001-pass.yaml", "HPA001"),
    ("hpa002-pass.yaml", "HPA002"),
    ("hpa003-pass.yaml", "HPA003"),
    ("aff001-pass.yaml", "AFF001"),
    ("aff002-pass.yaml", "AFF002"),
    ("wkl001-pass.yaml", "WKL001"),
    ("wkl002-pass.yaml", "WKL002"),
    ("sec001-pass.yaml", "SEC001"),
    ("net001-pass.yaml", "NET001"),
    ("dep001-pass.yaml", "DEP001"),
    ("dep002-pass.yaml", "DEP002"),
    ("kustomize-current/kustomization.yaml", "DEP003"),
    ("rep001-pass.yaml", "REP001"),
    ("pdb003-pass.yaml", "PDB003"),
    ("pdb004-pass.yaml", "PDB004"),
    ("pdb005-pass.yaml", "PDB005"),
    ("aff003-pass.yaml", "AFF003"),
    ("aff004-pass.yaml", "AFF004"),
    ("aff005-pass.yaml", "AFF005"),
    ("hpa004-pass.yaml", "HPA004"),
    ("wkl003-pass.yaml", "WKL003"),
    ("out001-pass.yaml", "OUT001"),
    ("sts001-pass.yaml", "STS001"),
    ("sts002-pass.yaml", "STS002"),
    ("lnt001-pass.yaml", "LNT001"),
    ("lnt002-pass.yaml", "LNT002"),
    ("drn001-pass.yaml", "DRN001"),
    ("zon001-pass.yaml", "ZON001"),
    ("zon002-pass.yaml", "ZON002"),
    ("quo001-pass.yaml", "QUO001"),
]


@pytest.mark.parametrize(("fixture", "code", "obj"), FAILING)
def test_rule_fires_on_failing_fixture(fixture: str, code: str, obj: str | None) -> None:
    findings = [f for f in lint(load(fixture), CONTEXTS.get(fixture, CONTEXT)) if f.code == code]
    assert findings, f"{code} did not fire on {fixture}"
    assert all(f.severity is rule(code).severity for f in findings)
    if obj is not None:
        assert obj in {f.object.display() for f in findings}


@pytest.mark.parametrize(("fixture", "code"), PASSING)
def test_rule_silent_on_passing_fixture(fixture: str, code: str) -> None:
    assert code not in codes(lint(load(fixture), CONTEXTS.get(fixture, CONTEXT)))


def test_every_rule_has_a_failing_and_a_passing_fixture() -> None:
    assert {r.code for r in RULES} == {c for _, c, _ in FAILING} == {c for _, c in PASSING}


def test_codes_are_unique_and_severities_as_documented() -> None:
    assert len({r.code for r in RULES}) == len(RULES)
    errors = {r.code for r in RULES if r.severity is Severity.ERROR}
    assert errors == {
        "PDB001", "PDB002", "PDB003", "PDB004", "HPA001", "HPA002", "HPA004", "AFF001", "WKL001", "WKL002",
        "STS001", "STS002", "LNT001", "DRN001", "ZON001", "QUO001",
    }


def test_clean_fixture_has_no_finding_at_all() -> None:
    assert lint(load("clean.yaml"), CONTEXT) == []


def test_seed_gateway_contradiction_message_counts_pending_replicas() -> None:
    (finding,) = [f for f in lint(load("aff001-fail.yaml"), CONTEXT) if f.code == "AFF001"]
    assert "needs 10 nodes" in finding.message
    assert "has 4" in finding.message
    assert "6 replica(s) would stay Pending" in finding.message


def test_affinity_counts_follow_the_context() -> None:
    objects = load("aff001-fail.yaml")
    assert "AFF001" not in codes(lint(objects, LintContext(nodes=11, zones=3)))
    assert "AFF002" in codes(lint(objects, LintContext(nodes=10, zones=3)))
    assert "AFF001" in codes(lint(objects, LintContext(nodes=9, zones=3)))


def test_zone_rule_is_skipped_when_zones_are_unknown() -> None:
    assert "AFF001" not in codes(lint(load("aff001-fail-zone.yaml"), LintContext(nodes=10, zones=None)))


def test_pdb_budget_arithmetic_uses_hpa_minimum() -> None:
    objects = load("pdb001-fail.yaml")  # minAvailable 2, replicas 1
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "api", "namespace": "dev"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "minReplicas": 3, "maxReplicas": 5},
    }
    assert "PDB001" not in codes(lint([*objects, hpa], CONTEXT))
    hpa["spec"]["minReplicas"] = 2
    assert "PDB001" in codes(lint([*objects, hpa], CONTEXT))


def test_pdb_with_empty_selector_selects_the_whole_namespace() -> None:
    objects = load("pdb002-fail.yaml")
    objects[1]["spec"]["selector"] = {}
    assert "PDB002" not in codes(lint(objects, CONTEXT))


def test_findings_serialise_per_contract() -> None:
    (finding,) = [f for f in lint(load("hpa002-fail.yaml"), CONTEXT) if f.code == "HPA002"]
    assert finding.contract() == {
        "code": "HPA002",
        "severity": "error",
        "object": {"kind": "HorizontalPodAutoscaler", "namespace": "green", "name": "search"},
        "message": "minReplicas 8 is above maxReplicas 4",
    }
    assert finding.line() == (
        "error HPA002 HorizontalPodAutoscaler/green/search: minReplicas 8 is above maxReplicas 4"
    )


def test_errors_are_reported_before_warnings() -> None:
    findings = lint(load("aff001-fail.yaml") + load("dep001-fail.yaml"), CONTEXT)
    severities = [f.severity for f in findings]
    assert severities == sorted(severities, key=lambda s: s is Severity.WARNING)
    assert Severity.WARNING in severities and Severity.ERROR in severities


def test_unknown_kinds_are_named_and_crds_in_the_input_make_kinds_known() -> None:
    widget = load("unknown-kind.yaml")
    assert unknown_kinds(widget) == ["Widget (example.com/v1)"]
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "names": {"kind": "Widget"}, "versions": [{"name": "v1"}]},
    }
    assert unknown_kinds([*widget, crd]) == []
    assert unknown_kinds(load("clean.yaml")) == []


def test_docs_lint_md_is_the_generated_rule_docs() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "lint.md").read_text(encoding="utf-8")
    assert text == docs.document(), "docs/lint.md is stale: aideon-resilience lint --explain all > docs/lint.md"


def test_every_rule_is_documented_and_compared() -> None:
    page = docs.document()
    for r in RULES:
        assert (len(r.doc) > 80 and "Fix:" in r.doc) or r.code.startswith("LNT"), r.code
        assert r.upstream, r.code
        assert f"| [`{r.code}`](#{r.code.lower()}) | {r.severity.value} |" in page
        assert f"### {r.code}: {r.title}" in page
    for tool_check in ("deployment-has-poddisruptionbudget", "no-anti-affinity", "pod-probes-identical",
                       "deployment-replicas", "minimum-three-replicas", "pdb-unhealthy-pod-eviction-policy"):
        assert tool_check in page


def test_suppression_by_annotation_with_reason_is_listed_not_dropped() -> None:
    findings = lint(load("lnt001-pass.yaml"), CONTEXT)
    rep = [f for f in findings if f.code == "REP001"]
    assert len(rep) == 1 and rep[0].suppressed is not None
    assert rep[0].suppressed.by == "annotation" and "leader-elected" in rep[0].suppressed.reason
    assert rep[0].line().startswith("suppressed warning REP001 Deployment/ops/leader: ")
    assert not any(f.counts for f in findings if f.code in ("REP001", "NET001"))
    assert findings[-1].suppressed is not None  # suppressed ones come after the counted ones


def test_annotation_without_reason_suppresses_nothing() -> None:
    findings = lint(load("lnt001-fail.yaml"), CONTEXT)
    (rep,) = [f for f in findings if f.code == "REP001"]
    assert rep.counts
    (lnt,) = [f for f in findings if f.code == "LNT001"]
    assert lnt.counts and lnt.severity is Severity.ERROR


def test_lint_findings_cannot_be_suppressed_by_annotation() -> None:
    objects = load("lnt002-fail.yaml")
    objects[0]["metadata"]["annotations"]["lint.aideon.io/ignore"] += ",LNT002"
    (lnt,) = [f for f in lint(objects, CONTEXT) if f.code == "LNT002"]
    assert lnt.counts


def test_disabled_codes_are_reported_as_suppressed() -> None:
    findings = lint(load("pdb001-fail.yaml"), CONTEXT, disabled=["pdb001", "REP001"])
    (pdb,) = [f for f in findings if f.code == "PDB001"]
    assert pdb.suppressed is not None and pdb.suppressed.by == "disable" and "--disable PDB001" in pdb.suppressed.reason
    assert all(f.counts for f in findings if f.code not in ("PDB001", "REP001"))
    assert pdb.contract()["suppressed"] == {"by": "disable", "reason": "--disable PDB001"}


def test_quota_message_names_what_the_maxima_need() -> None:
    messages = [f.message for f in lint(load("quo001-fail.yaml"), CONTEXT) if f.code == "QUO001"]
    assert any(m.startswith("requests.cpu 4 is below the 5000m") for m in messages)
    assert any(m.startswith("pods 8 is below the 10") for m in messages)
    assert not any("requests.memory" in m for m in messages)  # 10 x 512Mi = 5Gi fits 8Gi


def test_drain_analysis_counts_nodes_that_drain_at_once() -> None:
    from aideon_resilience.core.lint.feasibility import drain_limits
    from aideon_resilience.core.lint.model import Inventory

    inv = Inventory.from_objects(load("aff002-fail.yaml") + load("pdb001-pass.yaml"))
    # aff002-fail: required hostname anti-affinity at HPA max 4 on 4 nodes; with a budget of 1 at the
    # peak a second concurrent drain leaves two replacements unplaceable.
    inv.pdbs.append({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "gateway", "namespace": "edge"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "gateway"}}},
    })
    limits = {d.scale: d for d in drain_limits(inv, CONTEXT)}
    assert limits["peak"].nodes == 1 and "Deployment/gateway" in limits["peak"].limited_by
    assert limits["minimum"].nodes > 1


def test_notes_say_what_fits_after_a_zone_loss() -> None:
    lines = analysis_notes(load("drn001-fail.yaml"), LintContext(nodes=3, zones=3, node_cpu_millis=1000,
                                                                   node_memory_mib=4096))
    assert lines[0].startswith("drains: at the minimum up to 1 of 3 node(s) at once")
    assert lines[1].endswith("fit at the minimum and fit at the peak")
    lines = analysis_notes(load("drn001-fail.yaml"), LintContext(nodes=2, zones=2, node_cpu_millis=1000,
                                                                   node_memory_mib=4096))
    assert lines[0].startswith("drains: at the minimum no node drains without a budget blocking or pods left Pending")
    assert lines[1].endswith("do NOT fit at the minimum and do NOT fit at the peak")
