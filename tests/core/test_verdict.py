from __future__ import annotations

from pathlib import Path

import pytest

from aideon_resilience.core.evaluate.verdict import (
    SloResult,
    Status,
    build_verdict,
    exit_code,
    grade_max,
    read_verdict,
    score,
    worst,
    write_verdict,
)
from aideon_resilience.errors import InputFileError


def _r(status: Status, weight: float = 1.0, slo_id: str = "x") -> SloResult:
    return SloResult(id=slo_id, family="client", status=status, weight=weight, message=status.value)


@pytest.mark.parametrize(
    ("statuses", "verdict", "code"),
    [
        ([Status.PASS, Status.PASS], Status.PASS, 0),
        ([Status.PASS, Status.WARN], Status.PASS, 0),
        ([Status.PASS, Status.INCONCLUSIVE], Status.INCONCLUSIVE, 3),
        ([Status.FAIL, Status.INCONCLUSIVE], Status.FAIL, 1),
        ([Status.WARN, Status.FAIL], Status.FAIL, 1),
        ([], Status.INCONCLUSIVE, 3),
    ],
)
def test_overall_verdict_and_exit_code(statuses: list[Status], verdict: Status, code: int) -> None:
    v = build_verdict([_r(s) for s in statuses])
    assert v.verdict is verdict
    assert v.exit_code == code == exit_code(verdict)


def test_exit_code_mapping() -> None:
    assert [exit_code(s) for s in (Status.PASS, Status.FAIL, Status.INCONCLUSIVE, Status.WARN)] == [0, 1, 3, 0]


def test_weighted_score_counts_inconclusive_as_zero() -> None:
    results = [_r(Status.PASS, 3), _r(Status.WARN, 2), _r(Status.FAIL, 1), _r(Status.INCONCLUSIVE, 4)]
    assert score(results) == pytest.approx((3 * 1 + 2 * 0.5) / 10)
    assert score([_r(Status.PASS, 2), _r(Status.WARN, 2)]) == 0.75
    assert score([]) == 0.0


def test_grade_max_and_worst() -> None:
    assert grade_max(0.5, 1.0, 0.8) is Status.PASS
    assert grade_max(0.8, 1.0, 0.8) is Status.PASS
    assert grade_max(0.9, 1.0, 0.8) is Status.WARN
    assert grade_max(1.0, 1.0, 0.8) is Status.WARN
    assert grade_max(1.01, 1.0, 0.8) is Status.FAIL
    assert worst([Status.PASS, Status.INCONCLUSIVE, Status.WARN]) is Status.INCONCLUSIVE
    assert worst([Status.INCONCLUSIVE, Status.FAIL]) is Status.FAIL
    assert worst([]) is Status.INCONCLUSIVE


def test_verdict_round_trip_and_bad_file(tmp_path: Path) -> None:
    v = build_verdict([_r(Status.WARN, slo_id="a"), _r(Status.PASS, slo_id="b")], run_id="r1")
    write_verdict(tmp_path / "verdict.json", v)
    back = read_verdict(tmp_path / "verdict.json")
    assert back == v
    (tmp_path / "bad.json").write_text('{"verdict": "maybe"}')
    with pytest.raises(InputFileError, match=r"bad.json: verdict: "):
        read_verdict(tmp_path / "bad.json")
