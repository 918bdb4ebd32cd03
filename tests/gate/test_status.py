"""The live status of a gate run: estimate of time left, newest client window, the display text."""

from __future__ import annotations

from pathlib import Path

from aideon_resilience.cli.gate import status_text
from aideon_resilience.core.evidence.loadstats import WindowStat, write_windows
from aideon_resilience.gate.status import RunStatus, latest_window


def _window(start: float, users: int, errors: int, endpoint: str = "Aggregated") -> WindowStat:
    return WindowStat(start=start, end=start + 5, endpoint=endpoint, users=users, requests=100, failures=errors,
                      rps=20.0, error_ratio=errors / 100)


def test_time_left_is_the_mean_experiment_times_those_left_capped_by_the_bound() -> None:
    st = RunStatus(started=0.0, total=5, index=3, suite_started=100.0, bound_s=1000.0)
    assert st.estimate_left_s(now=300.0) == 300.0  # 2 done in 200 s: 3 more at 100 s each
    st.bound_s = 350.0
    assert st.estimate_left_s(now=300.0) == 150.0  # never past the gate's bound
    st.index = 1
    assert st.estimate_left_s(now=300.0) == 150.0  # nothing done yet: the bound is the estimate
    assert RunStatus().estimate_left_s() is None  # before the suite


def test_latest_window_reads_the_newest_aggregated_row_and_tolerates_a_partial_line(tmp_path: Path) -> None:
    f = tmp_path / "w.jsonl"
    assert latest_window(f) is None
    write_windows(f, [_window(0, 10, 0), _window(5, 150, 3), _window(5, 150, 9, endpoint="GET /x")])
    with f.open("a") as fh:
        fh.write('{"start": 10, "endpoint": "Aggre')  # being written
    w = latest_window(f)
    assert w is not None and w.users == 150 and w.error_ratio == 0.03


def test_status_text_shows_phase_experiment_times_and_load(tmp_path: Path) -> None:
    f = tmp_path / "w.jsonl"
    write_windows(f, [_window(0, 150, 2)])
    st = RunStatus(started=0.0, phase="chaos suite", experiment="node-drain", index=2, total=5,
                   suite_started=60.0, bound_s=900.0, windows_file=f)
    text = status_text(st, "chaos 2/5: node-drain", now=200.0)
    assert text.splitlines() == [
        "gate: chaos suite  experiment 2/5 node-drain",
        "elapsed 3m20s  left ~9m20s  users 150  error ratio 2.0%  20 req/s",
        "chaos 2/5: node-drain",
    ]
