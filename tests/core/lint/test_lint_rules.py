"""Every lint rule fires on its failing fixture and stays silent on its passing one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aideon_resilience.core.lint import RULES, Finding, LintContext, Severity, lint, unknown_kinds
from aideon_resilience.core.lint.registry import rule

FIXTURES = Path(__file__).parent / "fixtures"
CONTEXT = LintContext(nodes=4, zones=3)


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
]


@pytest.mark.parametrize(("fixture", "code", "obj"), FAILING)
def test_rule_fires_on_failing_fixture(fixture: str, code: str, obj: str | None) -> None:
    findings = [f for f in lint(load(fixture), CONTEXT) if f.code == code]
    assert findings, f"{code} did not fire on {fixture}"
    assert all(f.severity is rule(code).severity for f in findings)
    if obj is not None:
        assert obj in {f.object.display() for f in findings}


@pytest.mark.parametrize(("fixture", "code"), PASSING)
def test_rule_silent_on_passing_fixture(fixture: str, code: str) -> None:
    assert code not in codes(lint(load(fixture), CONTEXT))


def test_every_rule_has_a_failing_and_a_passing_fixture() -> None:
    assert {r.code for r in RULES} == {c for _, c, _ in FAILING} == {c for _, c in PASSING}


def test_codes_are_unique_and_severities_as_documented() -> None:
    assert len({r.code for r in RULES}) == len(RULES)
    errors = {r.code for r in RULES if r.severity is Severity.ERROR}
    assert errors == {"PDB001", "PDB002", "HPA001", "HPA002", "AFF001", "WKL001", "WKL002"}


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
    assert finding.model_dump(mode="json") == {
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


def test_manifests_readme_documents_every_rule_with_its_severity() -> None:
    readme = (Path(__file__).resolve().parents[3] / "manifests" / "README.md").read_text(encoding="utf-8")
    for r in RULES:
        assert f"| `{r.code}` | {r.severity.value} |" in readme, r.code
