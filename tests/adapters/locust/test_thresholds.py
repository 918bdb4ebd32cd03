from __future__ import annotations

import pytest

from aideon_resilience.adapters.locust.thresholds import Thresholds, parse_thresholds, violations


def test_parse_unset_and_set() -> None:
    assert not parse_thresholds(None, "", None).any
    t = parse_thresholds("0.01", "800", "1500")
    assert t == Thresholds(0.01, 800.0, 1500.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [(("2", None, None), "--max-error-ratio"), (("x", None, None), "--max-error-ratio"),
     ((None, "-1", None), "--max-p95-ms"), ((None, None, "abc"), "--max-p99-ms")],
)
def test_parse_rejects_bad_values(args: tuple[str | None, str | None, str | None], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_thresholds(*args)


def test_violations() -> None:
    t = Thresholds(0.01, 500, 1000)
    assert violations(t, 1000, 5, 400, 900) == []
    found = violations(t, 1000, 50, 600, 1200)
    assert len(found) == 3
    assert found[0].startswith("error ratio 0.0500 > 0.01")
    assert "p95 600 ms > 500 ms" in found[1] and "p99 1200 ms > 1000 ms" in found[2]
    assert violations(t, 0, 0, None, None) == ["no request was made"]
    assert violations(Thresholds(), 0, 0, None, None) == []
