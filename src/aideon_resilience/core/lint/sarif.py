"""SARIF 2.1.0 output of a lint run, as GitHub code scanning accepts it.

Each result names its rule, level, message and the object (a logical location), and points at
the file and line of the object's document (a physical location, relative to the repository
root through `%SRCROOT%` when the file lies under it). Suppressed findings carry a `suppressions`
entry: `inSource` for an ignore annotation, `external` for `--disable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from aideon_resilience.core.lint.docs import explain
from aideon_resilience.core.lint.model import Finding, Location
from aideon_resilience.core.lint.rule import Rule

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL_NAME = "aideon-resilience"
SRCROOT = "%SRCROOT%"


def _artifact(location: Location) -> dict[str, Any]:
    path = PurePosixPath(location.file)
    if path.is_absolute():
        return {"uri": path.as_uri()}
    return {"uri": str(path), "uriBaseId": SRCROOT}


def _rule(r: Rule) -> dict[str, Any]:
    return {
        "id": r.code,
        "name": r.code,
        "shortDescription": {"text": r.title},
        "fullDescription": {"text": r.doc.replace("`", "")},
        "help": {"text": f"{r.doc}\n\nCompared with: {r.upstream}".replace("`", ""), "markdown": explain(r)},
        "defaultConfiguration": {"level": r.severity.value},
        "properties": {"tags": ["resilience", "kubernetes"]},
    }


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.code,
        "ruleIndex": rule_index,
        "level": f.severity.value,
        "message": {"text": f"{f.object.display()}: {f.message}"},
        "partialFingerprints": {"objectAndRule/v1": f"{f.code}:{f.object.display()}"},
    }
    location: dict[str, Any] = {
        "logicalLocations": [
            {"name": f.object.name, "fullyQualifiedName": f.object.display(), "kind": "object"}
        ]
    }
    if f.location is not None:
        location["physicalLocation"] = {
            "artifactLocation": _artifact(f.location),
            "region": {"startLine": f.location.line},
        }
    result["locations"] = [location]
    if f.suppressed is not None:
        kind = "inSource" if f.suppressed.by == "annotation" else "external"
        result["suppressions"] = [{"kind": kind, "status": "accepted", "justification": f.suppressed.reason}]
    return result


def sarif_log(findings: Sequence[Finding], rules: Sequence[Rule], version: str) -> dict[str, Any]:
    """The SARIF log of one lint run (every rule listed, every finding a result)."""
    index = {r.code: i for i, r in enumerate(rules)}
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": version,
                        "rules": [_rule(r) for r in rules],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_result(f, index[f.code]) for f in findings],
            }
        ],
    }
