"""The lint over a realistic multi-service manifest set written for this test (fixtures/storefront):
ten services, nine of them at one replica, no PodDisruptionBudget, no spreading. The resilience
risks an SRE sees first must be reported, on the right objects, and nothing else of that kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from aideon_resilience.cli.main import main
from aideon_resilience.core.lint import LintContext, Severity, lint

STOREFRONT = Path(__file__).parent / "fixtures" / "storefront"
SINGLE = ["cart", "catalog", "checkout", "notifications", "payments", "pricing", "recommendations",
          "shipping", "web"]
RESILIENCE = {"REP001", "PDB003", "PDB004", "PDB005", "AFF003", "AFF004", "HPA004", "WKL003", "OUT001", "STS001"}


def objects() -> list[dict[str, object]]:
    docs: list[dict[str, object]] = []
    for name in ("namespace.yaml", "storefront.yaml"):
        docs += [d for d in yaml.safe_load_all((STOREFRONT / name).read_text(encoding="utf-8")) if d]
    return docs


def test_every_single_replica_and_unprotected_workload_is_reported() -> None:
    findings = lint(objects(), LintContext(nodes=6, zones=3))
    got = {(f.code, f.object.display()) for f in findings if f.code in RESILIENCE}
    expected = {("REP001", f"Deployment/storefront/{name}") for name in SINGLE}
    expected |= {
        (code, f"Deployment/storefront/{name}")
        for code in ("PDB003", "AFF003", "AFF004") for name in ("search", "pricing")  # 3 replicas; HPA max 5
    }
    expected |= {
        ("HPA004", "HorizontalPodAutoscaler/storefront/pricing"),
        ("WKL003", "Deployment/storefront/checkout"),
        ("OUT001", "DestinationRule/storefront/search"),
    }
    assert got == expected
    assert {f.code for f in findings if f.severity is Severity.ERROR} == {"PDB003", "HPA004", "WKL002"}


def test_zone_rule_needs_a_shape_with_zones() -> None:
    findings = lint(objects(), LintContext(nodes=6, zones=None))
    assert "AFF004" not in {f.code for f in findings}
    assert "AFF003" in {f.code for f in findings}


def test_cli_over_the_kustomize_directory_exits_1_and_names_the_risks(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["lint", str(STOREFRONT), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    rep = sorted(f["object"]["name"] for f in data if f["code"] == "REP001")
    assert rep == SINGLE
    assert sorted(f["object"]["name"] for f in data if f["code"] == "PDB003") == ["pricing", "search"]
