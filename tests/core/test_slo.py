from __future__ import annotations

from pathlib import Path

import pytest

from aideon_resilience.core.evaluate.slo import FAMILIES, ClientSlo, HpaSlo, load_slos
from aideon_resilience.errors import InputFileError
from tests.core.runfactory import SLO_YAML

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("local", "development", "staging", "production")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "slo.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_loads_every_family(tmp_path: Path) -> None:
    slos = load_slos(_write(tmp_path, SLO_YAML))
    assert [s.family for s in slos.slos] == [
        "client", "client", "hpa", "pdb", "anti_affinity", "outlier", "recovery"
    ]
    assert isinstance(slos.slos[0], ClientSlo) and slos.slos[0].max_error_ratio == 0.02
    assert isinstance(slos.slos[2], HpaSlo) and slos.slos[2].surge_experiment == "load-surge"
    assert slos.warn_ratio_of(slos.slos[0]) == 0.8


def test_directory_means_its_slo_yaml(tmp_path: Path) -> None:
    _write(tmp_path, SLO_YAML)
    assert load_slos(tmp_path).environment == "test"


REHEARSAL_FAMILIES = {"plan_replicas", "zone_capacity"}  # judged from a rehearsal's modelled load


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_shipped_environment_files_load(env: str) -> None:
    slos = load_slos(REPO / "manifests" / "environments" / env / "slo.yaml")
    assert slos.environment == env
    gate_families = {s.family for s in slos.for_run("gate").slos}
    assert gate_families == set(FAMILIES) - REHEARSAL_FAMILIES
    if (REPO / "manifests" / "environments" / env / "rehearsal.yaml").is_file():
        assert {s.family for s in slos.for_run("rehearsal").slos} >= REHEARSAL_FAMILIES


BAD = [
    ("environment: x\nslos:\n  - id: a\n    family: client\n    p95_ms: -1\n", "slos[0](a).p95_ms: "),
    ("environment: x\nslos:\n  - id: a\n    family: nope\n", "slos[0](a).family: unknown family"),
    ("environment: x\nslos:\n  - id: a\n", "slos[0](a).family: missing family"),
    ("environment: x\nslos:\n  - id: a\n    family: client\n", "slos[0](a): a client SLO needs at least one"),
    (
        "environment: x\nslos:\n  - id: ok\n    family: client\n    p95_ms: 1\n"
        "  - id: b\n    family: hpa\n    workloads: [x]\n    scale_up_within_s: 5\n    bogus: 1\n",
        "slos[1](b).bogus: Extra inputs are not permitted",
    ),
    (
        "environment: x\nslos:\n  - id: a\n    family: client\n    p95_ms: 3\n"
        "  - id: a\n    family: client\n    p95_ms: 3\n",
        "slos: duplicate SLO id 'a'",
    ),
    ("environment: x\nslos: [\n", "invalid YAML at line 3"),
    ("- a\n", "expected a mapping"),
    ("environment: x\nslos:\n  - id: Bad_Id\n    family: client\n    p95_ms: 3\n", "id: must be lowercase"),
    (
        "environment: x\nslos:\n  - id: a\n    family: hpa\n    workloads: [x]\n    scale_up_within_s: 5\n"
        "    scale_down_to: 2\n",
        "scale_down_to and scale_down_within_s go together",
    ),
    ("environment: x\nslos:\n  - id: a\n    family: client\n    weight: 0\n    p95_ms: 3\n", "weight: "),
    ("environment: x\nslos: []\n", "slos: "),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_file_one_line_naming_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputFileError) as info:
        load_slos(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no SLO file"):
        load_slos(tmp_path / "absent.yaml")


def test_slos_judge_the_runs_they_name() -> None:
    from aideon_resilience.core.evaluate.slo import SloFile

    slos = SloFile.model_validate({"environment": "t", "slos": [
        {"id": "a", "family": "experiments"},
        {"id": "b", "family": "experiments", "runs": ["gate", "rehearsal"]},
        {"id": "c", "family": "plan_replicas", "runs": ["rehearsal"], "within_s": 60},
    ]})
    assert [s.id for s in slos.for_run("gate").slos] == ["a", "b"]
    assert [s.id for s in slos.for_run("rehearsal").slos] == ["b", "c"]
    only_gate = SloFile.model_validate({"environment": "t", "slos": [{"id": "a", "family": "experiments"}]})
    assert only_gate.for_run("gate") is only_gate
    with pytest.raises(ValueError, match="no SLO applies to a rehearsal run"):
        only_gate.for_run("rehearsal")
