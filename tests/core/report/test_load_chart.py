"""The users chart: actual and target users, requests/s, and the Locust workers of a distributed run."""

from __future__ import annotations

from aideon_resilience.core.evaluate.client import evaluate_client
from aideon_resilience.core.evaluate.slo import ClientSlo
from aideon_resilience.core.evaluate.verdict import Status
from aideon_resilience.core.report.chart_canvas import TimeAxis
from aideon_resilience.core.report.client_charts import chart_load
from tests.core.runfactory import healthy_events, healthy_windows, run_data


def _distributed(drop_at: float | None = None) -> list:  # type: ignore[type-arg]
    out = []
    for w in healthy_windows():
        lost = drop_at is not None and w.start - 1_800_000_000.0 >= drop_at
        at_drop = drop_at is not None and w.start - 1_800_000_000.0 == drop_at
        out.append(w.model_copy(update={"target_users": 100, "workers": 3 if not lost or at_drop else 2,
                                        "merged_workers": 2 if lost else 3}))
    return out


def test_single_process_chart_has_one_panel_and_no_workers() -> None:
    data = run_data(healthy_windows(), healthy_events())
    chart = chart_load(data, TimeAxis(data))
    assert "workers" not in chart.caption


def test_distributed_chart_adds_target_users_and_the_worker_panel() -> None:
    single = run_data(healthy_windows(), healthy_events())
    data = run_data(_distributed(drop_at=300), healthy_events())
    chart = chart_load(data, TimeAxis(data))
    assert "workers connected to the master" in chart.caption and "target" in chart.caption
    assert chart.height > chart_load(single, TimeAxis(single)).height


def test_a_drop_out_leaves_an_unmerged_window_out_and_beyond_the_allowed_loss_is_inconclusive() -> None:
    slo = ClientSlo.model_validate({"id": "c", "family": "client", "max_error_ratio": 0.5})
    data = run_data(_distributed(drop_at=300), healthy_events())
    assert len(data.merged()) == len(data.aggregated()) - 1
    data.load_workers, data.max_worker_loss = 3, 0.1
    result = evaluate_client(slo, data, 0.8)
    assert result.status is Status.INCONCLUSIVE and "lost 1 of 3 (33%)" in result.message
    data.max_worker_loss = 0.4
    assert evaluate_client(slo, data, 0.8).status is Status.PASS
    steady = run_data(_distributed(), healthy_events())
    steady.load_workers, steady.max_worker_loss = 3, 0.0
    assert evaluate_client(slo, steady, 0.8).status is Status.PASS
