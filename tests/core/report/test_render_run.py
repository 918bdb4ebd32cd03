"""`aideon-resilience report RUN_DIR`: exit codes, missing versus malformed raw data, baselines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aideon_resilience.cli.main import main
from aideon_resilience.core.evaluate.verdict import Status, Verdict, read_verdict
from aideon_resilience.core.report import evaluate_run, render_run
from aideon_resilience.core.report.rundir import load_run
from tests.core.runfactory import healthy_events, healthy_windows, write_run_dir

REPORTS = ("index.html", "report.md", "verdict.json", "junit.xml")


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def test_cli_rerenders_and_exits_with_the_verdict(
    healthy_run: tuple[Path, Verdict], mixed_run: tuple[Path, Verdict], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(healthy_run[0], run_dir)
    for name in REPORTS:
        (run_dir / name).unlink()
    assert main(["report", str(run_dir)]) == 0
    assert all((run_dir / n).is_file() for n in REPORTS)
    assert read_verdict(run_dir / "verdict.json").verdict is Status.PASS
    assert "verdict pass (score 100%" in capsys.readouterr().out
    # fail → 1, with regressions flagged against the passing baseline
    mixed = tmp_path / "mixed"
    shutil.copytree(mixed_run[0], mixed)
    assert main(["report", str(mixed), "--baseline", str(run_dir)]) == 1
    v = read_verdict(mixed / "verdict.json")
    assert v.baseline_run_id == "run-1"
    assert {g.slo_id for g in v.regressions if g.kind == "status"} >= {"anti-affinity-gateway", "client-errors"}
    assert "Regressions against `run-1`" in (mixed / "report.md").read_text(encoding="utf-8")


def test_missing_data_files_are_inconclusive_not_input_errors(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "r", None, None)
    assert main(["report", str(run_dir)]) == 3
    v = read_verdict(run_dir / "verdict.json")
    assert {r.status for r in v.slos} == {Status.INCONCLUSIVE}
    # an empty data file is missing evidence too
    (run_dir / "timeline.jsonl").write_text("")
    assert main(["report", str(run_dir)]) == 3


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda d: (d / "run.json").unlink(), "run.json: no run metadata"),
        (lambda d: (d / "run.json").write_text("{"), "run.json: invalid JSON (line 1)"),
        (lambda d: (d / "run.json").write_text(json.dumps({"run_id": "x", "env": "e"})), "run.json: started: "),
        (lambda d: (d / "slo.yaml").unlink(), "slo.yaml: no SLO file"),
        (lambda d: (d / "slo.yaml").write_text("environment: e\nslos:\n  - id: a\n    family: hpa\n"),
         "slo.yaml: slos[0](a).workloads: "),
        (lambda d: _append(d / "timeline.jsonl", '{"kind": "node", "t": 1}'),
         f"timeline.jsonl: line {len(healthy_events()) + 1}: name: Field required"),
        (lambda d: _append(d / "locust-windows.jsonl", "oops"),
         f"locust-windows.jsonl: line {len(healthy_windows()) + 1}: "),
    ],
)
def test_malformed_raw_data_is_exit_2_one_line_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], breakage: object, expected: str
) -> None:
    run_dir = write_run_dir(tmp_path / "r", healthy_windows(), healthy_events())
    breakage(run_dir)  # type: ignore[operator]
    assert main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err
    assert not any((run_dir / n).exists() for n in REPORTS)


def test_not_a_directory_and_bad_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "absent")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    run_dir = write_run_dir(tmp_path / "r", None, healthy_events())
    assert main(["report", str(run_dir), "--baseline", str(tmp_path)]) == 2
    assert "verdict.json: no verdict file" in capsys.readouterr().err
    assert not (run_dir / "verdict.json").exists()


def test_slo_option_overrides_the_run_slo_file(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "r", healthy_windows(), healthy_events())
    slo = tmp_path / "strict.yaml"
    slo.write_text("environment: test\nslos:\n  - id: strict\n    family: client\n    p95_ms: 10\n")
    v = render_run(run_dir, slo_path=slo)
    assert [(r.id, r.status) for r in v.slos] == [("strict", Status.FAIL)]
    assert evaluate_run(load_run(run_dir)).verdict is Status.PASS
