"""Client windows: a chaos surge's own Locust run added into the run's windows (issue 11 item 4)."""

from __future__ import annotations

from pathlib import Path

from aideon_resilience.core.evaluate import evaluate
from aideon_resilience.core.evaluate.verdict import Status
from aideon_resilience.core.evidence.loadstats import add_extra_load, write_windows
from aideon_resilience.core.report.rundir import load_run
from tests.core.runfactory import T0, healthy_events, healthy_windows, window, write_run_dir


def test_surge_requests_are_added_by_overlap_and_users_by_the_window_running_at_the_end() -> None:
    base = [window(0, users=100, requests=1000, failures=10), window(5, users=100, requests=1000, failures=10)]
    # a surge window straddling both base windows: 2 s in the first, 3 s in the second
    surge = [window(3, users=200, requests=500, failures=100, p95=900.0)]
    first, second = add_extra_load(base, surge)
    assert (first.requests, first.failures) == (1000 + 200, 10 + 40)
    assert (second.requests, second.failures) == (1000 + 300, 10 + 60)
    assert second.error_ratio == 70 / 1300
    assert second.rps == 1300 / 5
    # users: the first window ends while the surge runs (3 s..8 s), the second after it ended
    assert (first.users, second.users) == (300, 100)
    assert (first.target_users, second.target_users) == (300, 100)
    assert first.p95_ms == 900.0  # the higher of the two runs: an upper bound, never a mean
    assert first.p50_ms == 20.0


def test_surge_windows_of_other_endpoints_or_outside_the_run_change_nothing() -> None:
    base = [window(0), window(5, endpoint="POST /api")]
    untouched = add_extra_load(base, [window(100, requests=999), window(0, endpoint="GET /other", requests=999)])
    assert untouched == base


def test_a_failing_surge_fails_the_client_slo_through_the_run_directory(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "run", windows=healthy_windows(), events=healthy_events())
    clean_run = load_run(run_dir)
    clean = evaluate(clean_run.slos, clean_run.data())
    assert next(r for r in clean.slos if r.id == "client-errors").status is Status.PASS
    # the surge's own Locust run failed half of its requests between 100 s and 130 s
    surge = [window(100 + 5 * i, users=300, requests=2000, failures=1000) for i in range(6)]
    write_windows(run_dir / "locust-windows.surge.jsonl", surge)
    run = load_run(run_dir)
    peak = max(w.users for w in run.windows or [])
    assert peak == 100 + 300, "the surge's users are on the users chart"
    at_110 = next(w for w in run.windows or [] if w.start == T0 + 110 and w.endpoint == "Aggregated")
    assert at_110.failures >= 1000
    failed = evaluate(run.slos, run.data())
    assert next(r for r in failed.slos if r.id == "client-errors").status is Status.FAIL
