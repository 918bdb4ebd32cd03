"""`aideon-resilience lint`: output formats, exit codes, cluster-shape discovery, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aideon_resilience.cli.main import main

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[3]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["lint", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_error_finding_exits_1_with_one_line_per_finding_and_a_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, str(FIXTURES / "pdb001-fail.yaml"), "--nodes", "4")
    lines = out.strip().splitlines()
    assert code == 1
    assert lines[0].startswith("error PDB001 PodDisruptionBudget/dev/api: minAvailable 2 allows no disruption")
    assert "3 error(s), 3 warning(s)" in lines[-1] and "4 nodes from --nodes" in lines[-1]


def test_clean_input_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(FIXTURES / "clean.yaml"), "--nodes", "4")
    assert code == 0
    assert out.strip().splitlines() == [
        f"{FIXTURES / 'clean.yaml'}: 0 error(s), 0 warning(s) (assuming 4 nodes from --nodes)"
    ]


def test_warnings_alone_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(FIXTURES / "dep002-fail.yaml"))
    assert code == 0
    assert out.startswith("warning DEP002 DestinationRule/edge/gateway: ")


def test_json_output_is_a_list_of_findings_per_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(FIXTURES / "hpa002-fail.yaml"), "--format", "json")
    data = [f for f in json.loads(out) if f["code"] == "HPA002"]
    assert code == 1
    assert data == [
        {
            "code": "HPA002",
            "severity": "error",
            "object": {"kind": "HorizontalPodAutoscaler", "namespace": "green", "name": "search"},
            "message": "minReplicas 8 is above maxReplicas 4",
        }
    ]


def test_json_output_of_cluster_scoped_object_has_null_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(FIXTURES / "kustomize-deprecated"), "--format", "json", "--nodes", "4")
    (finding,) = json.loads(out)
    assert code == 0
    assert finding["code"] == "DEP003" and finding["severity"] == "warning"
    assert finding["object"]["kind"] == "Kustomization" and finding["object"]["namespace"] is None
    assert finding["object"]["name"].endswith("kustomize-deprecated/kustomization.yaml")


def test_kustomization_files_of_a_directory_are_linted(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(FIXTURES / "kustomize-current"))
    assert code == 0 and "DEP003" not in out
    code, out, _ = run(capsys, str(FIXTURES / "kustomize-deprecated"))
    assert code == 0 and "warning DEP003 Kustomization/" in out and "patchesStrategicMerge" in out


def _env_dir(tmp_path: Path, nodes: int) -> Path:
    env = tmp_path / "environments" / "edge"
    env.mkdir(parents=True)
    (env / "cluster-shape.yaml").write_text(
        f"environment: edge\nnodes: {nodes}\nzones: [a, b, c]\n"
        "nodeAllocatable: {cpuMillis: 4000, memoryMiB: 8192, pods: 110}\n",
        encoding="utf-8",
    )
    shutil.copy(FIXTURES / "clean.yaml", env / "web.yaml")  # required anti-affinity, maxReplicas 2
    return env


def test_nodes_default_to_the_environment_cluster_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = _env_dir(tmp_path, nodes=1)
    code, out, _ = run(capsys, str(env / "web.yaml"))
    assert code == 1
    assert out.startswith("error AFF001 Deployment/shop/web: ")
    assert f"1 nodes from {env / 'cluster-shape.yaml'}, 3 zones" in out
    code, out, _ = run(capsys, str(env / "web.yaml"), "--nodes", "4")
    assert code == 0 and "AFF" not in out and "4 nodes from --nodes, 3 zones" in out


def test_nodes_default_without_a_shape_is_documented(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(FIXTURES / "aff002-fail.yaml"))
    assert code == 1  # maxReplicas 4 > the default of 3 nodes
    assert "3 nodes (default; no cluster-shape.yaml found)" in out
    main(["lint", "--help"])
    assert "else 3" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("invalid.yaml", "invalid.yaml: invalid YAML at line"),
        ("unknown-kind.yaml", "unknown-kind.yaml: kind: unknown kind Widget (example.com/v1)"),
        ("does-not-exist.yaml", "does-not-exist.yaml: no such file or directory"),
    ],
)
def test_bad_input_is_one_line_naming_the_file_and_exit_2(
    name: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, str(FIXTURES / "clean.yaml"), str(FIXTURES / name))
    assert code == 2
    assert out == ""  # nothing is reported for the good path either
    assert len(err.strip().splitlines()) == 1
    assert expected in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (["--format", "xml"], "--format: expected text, json or sarif, got 'xml'"),
        (["--nodes", "0"], "--nodes: "),
        (["--disable", "PDB999"], "--disable: unknown rule code 'PDB999'"),
    ],
)
def test_bad_option_is_a_usage_error(
    option: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, str(FIXTURES / "clean.yaml"), *option)
    assert code == 2 and out == ""
    assert expected in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("env", ["development", "staging", "production", "local"])
def test_shipped_environment_lints_without_errors_for_its_shape(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = REPO / "manifests" / "environments" / env
    code, out, _ = run(capsys, str(path), "--format", "json")
    assert code == 0, out
    assert [f for f in json.loads(out) if f["severity"] == "error"] == []


def test_explain_prints_the_rule_doc(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["lint", "--explain", "pdb003"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("### PDB003: multi-replica Deployment or StatefulSet without a PodDisruptionBudget")
    assert "Severity: error." in out and "deployment-has-poddisruptionbudget" in out


def test_explain_all_is_docs_lint_md(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--explain", "all"]) == 0
    assert capsys.readouterr().out == (REPO / "docs" / "lint.md").read_text(encoding="utf-8")


def test_explain_unknown_code_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--explain", "XYZ001")
    assert code == 2 and out == "" and "--explain: unknown rule code 'XYZ001'" in err


def test_suppressed_findings_are_listed_and_do_not_count(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(FIXTURES / "pdb001-fail.yaml"), "--nodes", "4", "--disable", "PDB001",
                       "--disable", "WKL001", "--disable", "WKL002")
    lines = out.strip().splitlines()
    assert code == 0
    assert any(line.startswith("suppressed error PDB001 PodDisruptionBudget/dev/api: ") for line in lines)
    assert "0 error(s), 3 warning(s), 3 suppressed" in lines[-1]
    code, out, _ = run(capsys, str(FIXTURES / "pdb001-fail.yaml"), "--format", "json", "--disable", "PDB001")
    (pdb,) = [f for f in json.loads(out) if f["code"] == "PDB001"]
    assert code == 1 and pdb["suppressed"] == {"by": "disable", "reason": "--disable PDB001"}
