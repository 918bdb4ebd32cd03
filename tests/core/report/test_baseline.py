from __future__ import annotations

from pathlib import Path

import pytest

from aideon_resilience.core.evaluate.verdict import Evidence, Figure, SloResult, Status, Verdict, build_verdict
from aideon_resilience.core.report.baseline import compare, compare_verdicts
from aideon_resilience.errors import InputFileError


def _v(status: Status, value: float, limit: float = 100.0, slo_id: str = "a") -> Verdict:
    ev = Evidence(figures={"t_s": Figure(value=value, limit=limit, unit="s")})
    return build_verdict([SloResult(id=slo_id, family="hpa", status=status, weight=1, message="m", evidence=ev)])


def test_status_worse_is_a_regression() -> None:
    regs = compare_verdicts(_v(Status.WARN, 50), _v(Status.PASS, 50))
    assert [(g.kind, g.baseline, g.current) for g in regs] == [("status", "pass", "warn")]
    assert compare_verdicts(_v(Status.PASS, 50), _v(Status.WARN, 50)) == []


def test_figure_worse_beyond_tolerance_of_limit_or_baseline() -> None:
    regs = compare_verdicts(_v(Status.PASS, 61), _v(Status.PASS, 50))  # +11 > 10 % of 100
    assert [(g.kind, g.figure) for g in regs] == [("figure", "t_s")]
    assert "t_s 50 → 61 s" in regs[0].message
    assert compare_verdicts(_v(Status.PASS, 59), _v(Status.PASS, 50)) == []
    assert compare_verdicts(_v(Status.PASS, 10), _v(Status.PASS, 50)) == []  # better
    higher = Evidence(figures={"zones": Figure(value=2, limit=3, better="higher")})
    base = Evidence(figures={"zones": Figure(value=3, limit=3, better="higher")})
    cur_v = build_verdict([SloResult(id="z", family="x", status=Status.PASS, weight=1, message="", evidence=higher)])
    base_v = build_verdict([SloResult(id="z", family="x", status=Status.PASS, weight=1, message="", evidence=base)])
    assert [g.figure for g in compare_verdicts(cur_v, base_v)] == ["zones"]


def test_missing_slo_is_flagged() -> None:
    regs = compare_verdicts(_v(Status.PASS, 1, slo_id="b"), _v(Status.PASS, 1, slo_id="a"))
    assert [(g.slo_id, g.kind) for g in regs] == [("a", "missing")]


def test_compare_reads_the_baseline_run_dir(tmp_path: Path) -> None:
    from aideon_resilience.core.evaluate.verdict import write_verdict

    write_verdict(tmp_path / "verdict.json", _v(Status.PASS, 10))
    assert [g.kind for g in compare(_v(Status.FAIL, 10), tmp_path)] == ["status"]
    with pytest.raises(InputFileError, match="no verdict file"):
        compare(_v(Status.FAIL, 10), tmp_path / "absent")
