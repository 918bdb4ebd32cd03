"""`lint --format sarif`: SARIF 2.1.0 valid against the OASIS schema (vendored in tests/data), each
finding at the file and line of its object, also through kustomize; suppressions visible."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aideon_resilience.cli.main import main

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def sarif(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["lint", *args, "--format", "sarif"])
    return code, json.loads(capsys.readouterr().out)


def validate(log: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(log)


def physical(result: dict[str, Any]) -> tuple[Path, int]:
    loc = result["locations"][0]["physicalLocation"]
    uri = loc["artifactLocation"]["uri"]
    path = Path(uri.removeprefix("file://")) if uri.startswith("file://") else Path(uri)
    return path, loc["region"]["startLine"]


def assert_points_at_object(result: dict[str, Any], base: Path = Path()) -> None:
    path, line = physical(result)
    kind, *_, name = result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].split("/")
    document = (base / path).read_text(encoding="utf-8").splitlines()[line - 1:]
    head = "\n".join(document[: document.index("---") if "---" in document else len(document)][:6])
    declared = re.search(r"^  name: (\S+)$", head, re.MULTILINE)
    # kustomize's name prefixes and suffixes only add to the name the file declares (the canary)
    assert head.startswith("apiVersion:") and f"kind: {kind}" in head, (path, line, head)
    assert name in head or (declared and declared.group(1) in name), (path, line, head)


def test_schema_validation_can_fail() -> None:
    log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": []}]}
    validate(log)
    bad = copy.deepcopy(log)
    bad["runs"][0]["results"] = [{"message": {"text": "m"}, "level": "fatal"}]
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)


def test_sarif_through_kustomize_is_valid_and_points_at_each_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, log = sarif(capsys, str(FIXTURES / "storefront"))
    validate(log)
    assert code == 1
    (run,) = log["runs"]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "REP001" in rules and "PDB003" in rules
    results = run["results"]
    assert {r["ruleId"] for r in results} >= {"REP001", "PDB003", "AFF003", "HPA004", "WKL003", "OUT001"}
    for result in results:
        assert rules[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning")
        assert physical(result)[0].name == "storefront.yaml"
        assert_points_at_object(result)


def test_plain_file_lines_and_suppressions(capsys: pytest.CaptureFixture[str]) -> None:
    code, log = sarif(capsys, str(FIXTURES / "lnt001-pass.yaml"), "--disable", "WKL001")
    validate(log)
    assert code == 1  # WKL002 still counts
    by_rule = {r["ruleId"]: r for r in log["runs"][0]["results"]}
    assert by_rule["REP001"]["suppressions"] == [
        {"kind": "inSource", "status": "accepted",
         "justification": "leader-elected controller: a second replica would only wait for the lease"}
    ]
    assert by_rule["WKL001"]["suppressions"][0]["kind"] == "external"
    assert "suppressions" not in by_rule["WKL002"]
    assert physical(by_rule["REP001"])[1] == 2  # the document starts after the comment line


def test_repository_paths_are_relative_to_the_source_root(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    code, log = sarif(capsys, "manifests/environments/development")
    validate(log)
    assert code == 0
    results = log["runs"][0]["results"]
    assert results and all(r["suppressions"][0]["kind"] == "inSource" for r in results)
    for result in results:
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%" and artifact["uri"].startswith("manifests/components/")
        assert_points_at_object(result, REPO)
