"""Charts of what the clients saw: users and requests/s (or the modelled users), latency, errors."""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from aideon_resilience.core.evaluate import RunData
from aideon_resilience.core.evidence.loadstats import WindowStat
from aideon_resilience.core.evidence.timeline import ModelledLoadSample
from aideon_resilience.core.report.chart_canvas import COLOURS, Chart, TimeAxis, chart, figure, no_data, steps


def chart_load(data: RunData, axis: TimeAxis) -> Chart:
    """Actual and target users with requests/s; below them the Locust workers the master had."""
    agg = data.aggregated()
    modelled = data.timeline.modelled if data.timeline is not None else []
    if not agg and modelled:
        return _modelled_load(modelled, axis)
    distributed = any(w.workers is not None for w in agg)
    caption = "Locust, all endpoints (Aggregated)"
    fig, axes = figure(rows=2, row_h=1.6) if distributed else figure()
    ax = axes[0]
    if agg:
        caption += _users_panel(ax, agg, axis)
    else:
        no_data(ax, "client window")
    axis.decorate(ax, label=True)
    if distributed:
        _workers_panel(axes[1], agg, axis)
        caption += "; below: Locust workers connected to the master (x: a window it could not merge)"
        ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("seconds since run start")
    return chart("load", "Users, target users, requests per second and workers", caption, fig)


def _modelled_load(modelled: Sequence[ModelledLoadSample], axis: TimeAxis) -> Chart:
    """The rehearsal's modelled users (no request was sent)."""
    fig, (ax,) = figure()
    steps(
        ax,
        axis.rel([m.t for m in modelled]),
        [m.users for m in modelled],
        axis.xmax,
        color=COLOURS[0],
        linewidth=1.2,
        label="modelled users",
    )
    ax.set_ylabel("modelled users")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize=8)
    axis.decorate(ax, label=True)
    ax.set_xlabel("seconds since run start")
    return chart(
        "load",
        "Modelled users",
        "MODELLED: users of the rehearsal's schedule, no request was sent; "
        "the plan's traffic model turned them into CPU per pod",
        fig,
    )


def _users_panel(ax: Axes, agg: Sequence[WindowStat], axis: TimeAxis) -> str:
    """Users (and target users) with requests/s on a second scale; returns what to add to the caption."""
    note = ""
    x = axis.rel([w.end for w in agg])
    ax.plot(x, [w.users for w in agg], color=COLOURS[0], linewidth=1.2, label="users")
    if any(w.target_users is not None for w in agg):
        target = [math.nan if w.target_users is None else w.target_users for w in agg]
        ax.plot(x, target, color=COLOURS[0], linewidth=1.0, linestyle="--", label="target users")
        note = "; dashed: the target users the shape asked for"
    ax.set_ylabel("users")
    ax2 = ax.twinx()
    ax2.plot(x, [w.rps for w in agg], color=COLOURS[1], linewidth=1.0, label="requests/s")
    ax2.set_ylabel("requests/s")
    ax2.set_ylim(bottom=0)
    ax.set_ylim(bottom=0)
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [str(ln.get_label()) for ln in lines], loc="upper right", fontsize=8)
    return note


def _workers_panel(ax: Axes, agg: Sequence[WindowStat], axis: TimeAxis) -> None:
    """The Locust workers connected to the master, with the windows it could not merge."""
    wx = axis.rel([w.start for w in agg if w.workers is not None])
    workers = [float(w.workers) for w in agg if w.workers is not None]
    steps(ax, wx, workers, axis.xmax, color=COLOURS[2], linewidth=1.2, label="workers")
    unmerged = [w for w in agg if not w.merged]
    if unmerged:
        ax.plot(
            axis.rel([w.end for w in unmerged]),
            [float(w.workers or 0) for w in unmerged],
            "x",
            color=COLOURS[3],
            label="window not merged",
        )
    ax.set_ylim(0, max(workers) * 1.2 + 0.5)
    ax.set_ylabel("workers")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="lower left", fontsize=8)
    axis.decorate(ax, label=False)


def chart_latency(data: RunData, axis: TimeAxis) -> Chart:
    fig, (ax,) = figure()
    agg = data.aggregated()
    if any(w.p50_ms is not None or w.p95_ms is not None or w.p99_ms is not None for w in agg):
        x = axis.rel([w.end for w in agg])
        for i, attr in enumerate(("p50_ms", "p95_ms", "p99_ms")):
            y = [getattr(w, attr) if getattr(w, attr) is not None else math.nan for w in agg]
            ax.plot(x, y, color=COLOURS[i], linewidth=1.0, label=attr.removesuffix("_ms"))
        ax.set_ylabel("latency (ms)")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper right", fontsize=8)
    else:
        no_data(ax, "latency")
    axis.decorate(ax, label=True)
    ax.set_xlabel("seconds since run start")
    return chart("latency", "Latency percentiles", "per window, all endpoints", fig)


def chart_errors(data: RunData, axis: TimeAxis, limits: Sequence[tuple[str, float]] = ()) -> Chart:
    fig, (ax,) = figure()
    agg = data.aggregated()
    if agg:
        x = axis.rel([w.end for w in agg])
        ax.plot(x, [w.error_ratio for w in agg], color=COLOURS[3], linewidth=1.0, label="error ratio")
        for i, (name, value) in enumerate(limits):
            ax.axhline(value, color=COLOURS[(i + 4) % len(COLOURS)], linestyle="--", linewidth=0.8, label=name)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("failed / requests")
        ax.legend(loc="upper right", fontsize=8)
    else:
        no_data(ax, "client window")
    axis.decorate(ax, label=True)
    ax.set_xlabel("seconds since run start")
    return chart("errors", "Error ratio", "per window; dashed lines are SLO limits", fig)
