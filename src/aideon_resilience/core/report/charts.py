"""Charts of a run, in report order (PNG data URIs embedded in the HTML report).

The shared time axis and drawing helpers are in `chart_canvas`; the client charts in
`client_charts`, the cluster charts in `cluster_charts`.
"""

from __future__ import annotations

from collections.abc import Sequence

from aideon_resilience.core.evaluate import RunData
from aideon_resilience.core.report.chart_canvas import Chart, TimeAxis
from aideon_resilience.core.report.client_charts import chart_errors, chart_latency, chart_load
from aideon_resilience.core.report.cluster_charts import chart_nodes, chart_pdbs, chart_replicas


def render_charts(
    data: RunData,
    error_limits: Sequence[tuple[str, float]] = (),
    focus_workloads: Sequence[str] = (),
    focus_pdbs: Sequence[str] = (),
) -> list[Chart]:
    """All charts of a run, in report order.

    Small multiples (replicas, PDBs) draw a panel for every series in focus (named by an SLO)
    or that changed during the run; steady ones are listed in the caption instead.
    """
    axis = TimeAxis(data)
    return [
        chart_load(data, axis),
        chart_latency(data, axis),
        chart_errors(data, axis, error_limits),
        chart_replicas(data, axis, focus_workloads),
        chart_pdbs(data, axis, focus_pdbs),
        chart_nodes(data, axis),
    ]
