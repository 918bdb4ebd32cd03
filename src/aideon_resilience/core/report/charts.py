"""Charts of a run, rendered with matplotlib (Agg canvas, no pyplot state) to PNG data URIs.

Every chart shares one time axis: seconds since the run start, the same limits on every chart,
with each chaos experiment shaded and labelled and each chaos action drawn as a darker band.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from aideon_resilience.core.evaluate import RunData
from aideon_resilience.core.timeline import ChaosActivity, ExperimentEvent, PdbSample, WorkloadSample, matches

_COLOURS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]
_DPI = 80
T = TypeVar("T")
_WIDTH_IN = 11.0


@dataclass
class Chart:
    key: str
    title: str
    caption: str
    data_uri: str
    width: int
    height: int


class _Axis:
    """The shared time axis and the chaos spans drawn on every chart."""

    def __init__(self, data: RunData) -> None:
        self.t0 = data.t0
        self.xmax = max(1.0, data.data_end() - data.t0)
        tl = data.timeline
        self.experiments: list[ExperimentEvent] = list(tl.experiments) if tl else []
        self.actions: list[ChaosActivity] = [a for a in tl.chaos if a.type == "action"] if tl else []
        self.colour = {
            name: _COLOURS[i % len(_COLOURS)]
            for i, name in enumerate(dict.fromkeys(e.experiment for e in self.experiments))
        }

    def rel(self, values: Sequence[float]) -> np.ndarray:
        return np.asarray(values, dtype=float) - self.t0

    def decorate(self, ax: Axes, label: bool) -> None:
        ax.set_xlim(0, self.xmax)
        ax.grid(True, alpha=0.25, linewidth=0.6)
        # one collection per axis (x in data, y across the axis): far cheaper than axvspan calls
        boxes: list[list[tuple[float, float]]] = []
        colours: list[tuple[float, float, float, float]] = []
        for e in self.experiments:
            boxes.append(_box(e.start - self.t0, e.end - self.t0))
            colours.append(to_rgba(self.colour[e.experiment], 0.10))
        for a in self.actions:
            boxes.append(_box(a.start - self.t0, max(a.end, a.start + 0.5) - self.t0))
            colours.append(to_rgba(self.colour.get(a.experiment, "#444444"), 0.25))
        if boxes:
            ax.add_collection(
                PolyCollection(boxes, facecolors=colours, linewidths=0, transform=ax.get_xaxis_transform()),
                autolim=False,
            )
        for e in self.experiments:
            c = self.colour[e.experiment]
            if label:
                ax.text(
                    e.start - self.t0,
                    1.0,
                    f" {e.experiment}",
                    transform=ax.get_xaxis_transform(),
                    fontsize=7,
                    color=c,
                    va="top",
                    ha="left",
                    clip_on=True,
                )


def _box(x0: float, x1: float) -> list[tuple[float, float]]:
    return [(x0, 0.0), (x1, 0.0), (x1, 1.0), (x0, 1.0)]


def _png(fig: Figure) -> tuple[str, int, int]:
    canvas = FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    w, h = canvas.get_width_height()
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), w, h


# Fixed margins (not a layout engine) so every chart's plot area spans the same pixels and the
# time axes line up when the charts are stacked in the report.
_LEFT, _RIGHT = 0.12, 0.90
_TOP_IN, _BOTTOM_IN = 0.30, 0.55


def _figure(rows: int = 1, cols: int = 1, row_h: float = 2.6) -> tuple[Figure, list[Axes]]:
    height = _TOP_IN + _BOTTOM_IN + row_h * rows
    fig = Figure(figsize=(_WIDTH_IN, height), dpi=_DPI)
    # no sharex: matplotlib's shared-axis transforms cost grows with the panel count; every
    # axis gets the same limits from _Axis.decorate instead
    axes = fig.subplots(rows, cols, squeeze=False)
    fig.subplots_adjust(
        left=_LEFT,
        right=_RIGHT,
        top=1 - _TOP_IN / height,
        bottom=_BOTTOM_IN / height,
        hspace=0.45 if rows > 1 else 0.2,
        wspace=0.18,
    )
    return fig, [ax for row in axes for ax in row]


def _no_data(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} recorded", transform=ax.transAxes, ha="center", va="center", color="#888")


def _chart(key: str, title: str, caption: str, fig: Figure) -> Chart:
    uri, w, h = _png(fig)
    return Chart(key=key, title=title, caption=caption, data_uri=uri, width=w, height=h)


def _steps(ax: Axes, x: np.ndarray, y: Sequence[float], xmax: float, **kw: object) -> None:
    """A step series held until the end of the axis."""
    if len(x) == 0:
        return
    yv = np.asarray(y, dtype=float)
    # keep only the changes: a sampler writing every second repeats most values
    keep = np.ones(len(yv), dtype=bool)
    keep[1:] = yv[1:] != yv[:-1]
    xs = np.append(x[keep], max(xmax, float(x[-1])))
    ys = np.append(yv[keep], float(yv[-1]))
    ax.step(xs, ys, where="post", **kw)  # type: ignore[arg-type]


def chart_load(data: RunData, axis: _Axis) -> Chart:
    """Actual and target users with requests/s; below them the Locust workers the master had."""
    agg = data.aggregated()
    modelled = data.timeline.modelled if data.timeline is not None else []
    if not agg and modelled:
        fig, (ax,) = _figure()
        _steps(ax, axis.rel([m.t for m in modelled]), [m.users for m in modelled], axis.xmax,
               color=_COLOURS[0], linewidth=1.2, label="modelled users")
        ax.set_ylabel("modelled users")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper right", fontsize=8)
        axis.decorate(ax, label=True)
        ax.set_xlabel("seconds since run start")
        return _chart("load", "Modelled users", "MODELLED: users of the rehearsal's schedule, no request was sent; "
                      "the plan's traffic model turned them into CPU per pod", fig)
    distributed = any(w.workers is not None for w in agg)
    caption = "Locust, all endpoints (Aggregated)"
    fig, axes = _figure(rows=2, row_h=1.6) if distributed else _figure()
    ax = axes[0]
    if agg:
        x = axis.rel([w.end for w in agg])
        ax.plot(x, [w.users for w in agg], color=_COLOURS[0], linewidth=1.2, label="users")
        if any(w.target_users is not None for w in agg):
            target = [math.nan if w.target_users is None else w.target_users for w in agg]
            ax.plot(x, target, color=_COLOURS[0], linewidth=1.0, linestyle="--", label="target users")
            caption += "; dashed: the target users the shape asked for"
        ax.set_ylabel("users")
        ax2 = ax.twinx()
        ax2.plot(x, [w.rps for w in agg], color=_COLOURS[1], linewidth=1.0, label="requests/s")
        ax2.set_ylabel("requests/s")
        ax2.set_ylim(bottom=0)
        ax.set_ylim(bottom=0)
        lines = ax.get_lines() + ax2.get_lines()
        ax.legend(lines, [str(ln.get_label()) for ln in lines], loc="upper right", fontsize=8)
    else:
        _no_data(ax, "client window")
    axis.decorate(ax, label=True)
    if distributed:
        wx = axis.rel([w.start for w in agg if w.workers is not None])
        workers = [float(w.workers) for w in agg if w.workers is not None]
        _steps(axes[1], wx, workers, axis.xmax, color=_COLOURS[2], linewidth=1.2, label="workers")
        unmerged = [w for w in agg if not w.merged]
        if unmerged:
            axes[1].plot(axis.rel([w.end for w in unmerged]), [float(w.workers or 0) for w in unmerged], "x",
                         color=_COLOURS[3], label="window not merged")
        axes[1].set_ylim(0, max(workers) * 1.2 + 0.5)
        axes[1].set_ylabel("workers")
        axes[1].yaxis.set_major_locator(MaxNLocator(integer=True))
        axes[1].legend(loc="lower left", fontsize=8)
        axis.decorate(axes[1], label=False)
        caption += "; below: Locust workers connected to the master (x: a window it could not merge)"
        ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("seconds since run start")
    return _chart("load", "Users, target users, requests per second and workers", caption, fig)


def chart_latency(data: RunData, axis: _Axis) -> Chart:
    fig, (ax,) = _figure()
    agg = data.aggregated()
    if any(w.p50_ms is not None or w.p95_ms is not None or w.p99_ms is not None for w in agg):
        x = axis.rel([w.end for w in agg])
        for i, attr in enumerate(("p50_ms", "p95_ms", "p99_ms")):
            y = [getattr(w, attr) if getattr(w, attr) is not None else math.nan for w in agg]
            ax.plot(x, y, color=_COLOURS[i], linewidth=1.0, label=attr.removesuffix("_ms"))
        ax.set_ylabel("latency (ms)")
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper right", fontsize=8)
    else:
        _no_data(ax, "latency")
    axis.decorate(ax, label=True)
    ax.set_xlabel("seconds since run start")
    return _chart("latency", "Latency percentiles", "per window, all endpoints", fig)


def chart_errors(data: RunData, axis: _Axis, limits: Sequence[tuple[str, float]] = ()) -> Chart:
    fig, (ax,) = _figure()
    agg = data.aggregated()
    if agg:
        x = axis.rel([w.end for w in agg])
        ax.plot(x, [w.error_ratio for w in agg], color=_COLOURS[3], linewidth=1.0, label="error ratio")
        for i, (name, value) in enumerate(limits):
            ax.axhline(value, color=_COLOURS[(i + 4) % len(_COLOURS)], linestyle="--", linewidth=0.8, label=name)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("failed / requests")
        ax.legend(loc="upper right", fontsize=8)
    else:
        _no_data(ax, "client window")
    axis.decorate(ax, label=True)
    ax.set_xlabel("seconds since run start")
    return _chart("errors", "Error ratio", "per window; dashed lines are SLO limits", fig)


def _label(ax: Axes, text: str) -> None:
    """The panel's name above its top left corner (cheaper to lay out than a title)."""
    ax.text(0.0, 1.02, text, transform=ax.transAxes, fontsize=8, ha="left", va="bottom")


def _grid(n: int) -> tuple[int, int]:
    cols = 1 if n <= 1 else 2 if n <= 4 else 3
    return max(1, math.ceil(n / cols)), cols


def _split_steady(
    series: dict[str, list[T]], changed: Callable[[list[T]], bool], focus: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Panels worth drawing (in focus, or something changed) and the steady rest, by key."""
    drawn: list[str] = []
    steady: list[str] = []
    for key in sorted(series):
        (drawn if matches(key, focus) or changed(series[key]) else steady).append(key)
    return drawn, steady


def _steady_note(steady: list[str], what: str) -> str:
    if not steady:
        return ""
    return f"; steady throughout, not drawn ({len(steady)} {what}): " + ", ".join(steady)


def _panels(n: int, row_h: float) -> tuple[Figure, list[Axes], int]:
    rows, cols = _grid(n)
    fig, axes = _figure(rows, cols, row_h=row_h if n else 2.6)
    for ax in axes[n:]:
        if n:
            ax.set_visible(False)
    for ax in axes[: max(0, n - cols)]:
        ax.tick_params(labelbottom=False)  # only the bottom panel of each column is labelled
    axes[max(0, min(n, len(axes)) - 1)].set_xlabel("seconds since run start")
    return fig, axes, cols


def _finish_panel(ax: Axes, axis: _Axis, key: str, legend: bool) -> None:
    _label(ax, key)
    ys = [np.asarray(ln.get_ydata(), dtype=float) for ln in ax.get_lines()]
    top = max((float(np.nanmax(y)) for y in ys if y.size), default=1.0)
    ax.set_ylim(0, top * 1.15 + 0.3)
    # few ticks: tick artists are most of a panel's drawing cost
    ax.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.tick_params(labelsize=7)
    axis.decorate(ax, label=False)  # panels are narrow: experiments are named on the charts above
    if legend:
        ax.legend(loc="lower left", fontsize=6)


def _workload_changed(samples: list[WorkloadSample]) -> bool:
    first = samples[0]
    return any(
        (s.replicas, s.ready, s.hpa_desired, s.hpa_min, s.hpa_max)
        != (first.replicas, first.ready, first.hpa_desired, first.hpa_min, first.hpa_max)
        for s in samples
    )


def chart_replicas(data: RunData, axis: _Axis, focus: Sequence[str] = ()) -> Chart:
    series = data.timeline.workload_series() if data.timeline else {}
    drawn, steady = _split_steady(series, _workload_changed, focus)
    fig, axes, _ = _panels(len(drawn), 1.9)
    if not drawn:
        _no_data(axes[0], "workload change" if series else "workload sample")
    for i, key in enumerate(drawn):
        ax, samples = axes[i], series[key]
        x = axis.rel([s.t for s in samples])
        _steps(ax, x, [s.replicas for s in samples], axis.xmax, color=_COLOURS[0], label="replicas")
        _steps(ax, x, [s.ready for s in samples], axis.xmax, color=_COLOURS[2], label="ready")
        hpa = [s for s in samples if s.hpa_max is not None]
        if hpa:
            hx = axis.rel([s.t for s in hpa])
            _steps(ax, hx, [float(s.hpa_min or 0) for s in hpa], axis.xmax, color="#777", linestyle="--",
                   linewidth=0.8, label="HPA min/max")
            _steps(ax, hx, [float(s.hpa_max or 0) for s in hpa], axis.xmax, color="#777", linestyle="--",
                   linewidth=0.8)
            des = [s for s in hpa if s.hpa_desired is not None]
            if des:
                _steps(ax, axis.rel([s.t for s in des]), [float(s.hpa_desired or 0) for s in des], axis.xmax,
                       color=_COLOURS[1], linestyle=":", label="HPA desired")
        _finish_panel(ax, axis, key, i == 0)
    caption = "per workload: replicas, ready, HPA min/max/desired" + _steady_note(
        [f"{k} ({series[k][0].replicas})" for k in steady], "workloads"
    )
    return _chart("replicas", "Replicas against HPA bounds", caption, fig)


def _pdb_changed(samples: list[PdbSample]) -> bool:
    first = samples[0]
    return any(
        (s.current_healthy, s.desired_healthy) != (first.current_healthy, first.desired_healthy)
        or s.current_healthy < s.desired_healthy
        for s in samples
    )


def chart_pdbs(data: RunData, axis: _Axis, focus: Sequence[str] = ()) -> Chart:
    series = data.timeline.pdb_series() if data.timeline else {}
    drawn, steady = _split_steady(series, _pdb_changed, focus)
    fig, axes, _ = _panels(len(drawn), 1.7)
    if not drawn:
        _no_data(axes[0], "PDB change" if series else "PDB sample")
    for i, key in enumerate(drawn):
        ax, samples = axes[i], series[key]
        x = axis.rel([s.t for s in samples])
        _steps(ax, x, [s.current_healthy for s in samples], axis.xmax, color=_COLOURS[2], label="healthy")
        _steps(ax, x, [s.desired_healthy for s in samples], axis.xmax, color=_COLOURS[3], linestyle="--",
               label="minimum (desired healthy)")
        _steps(ax, x, [s.disruptions_allowed for s in samples], axis.xmax, color="#999", linestyle=":",
               linewidth=0.8, label="disruptions allowed")
        _finish_panel(ax, axis, key, i == 0)
    caption = "per PodDisruptionBudget" + _steady_note(
        [f"{k} ({series[k][0].current_healthy}/{series[k][0].desired_healthy})" for k in steady], "PDBs"
    )
    return _chart("pdbs", "PDB healthy against minimum", caption, fig)


def chart_nodes(data: RunData, axis: _Axis) -> Chart:
    tl = data.timeline
    per_node = tl.pods_per_node() if tl else {}
    n = len(per_node)
    fig, (ax,) = _figure(row_h=max(2.0, 0.28 * n + 0.8))
    if not per_node or tl is None:
        _no_data(ax, "pod placement")
    else:
        zones = tl.node_zones()
        nodes = sorted(per_node, key=lambda nd: (zones.get(nd) or "", nd))
        times = sorted({t for s in per_node.values() for t, _ in s})
        edges = np.append(axis.rel(times), max(axis.xmax, float(times[-1] - axis.t0)))
        grid = np.zeros((len(nodes), len(times)))
        at = np.asarray(times, dtype=float)
        for r, node in enumerate(nodes):
            ts = np.asarray([t for t, _ in per_node[node]], dtype=float)
            vals = np.asarray([p for _, p in per_node[node]], dtype=float)
            idx = np.searchsorted(ts, at, side="right") - 1
            grid[r] = np.where(idx >= 0, vals[np.clip(idx, 0, None)], 0.0)
        mesh = ax.pcolormesh(edges, np.arange(len(nodes) + 1), grid, cmap="Blues", shading="flat",
                             vmin=0, vmax=max(1.0, float(grid.max())))
        ax.set_yticks(np.arange(len(nodes)) + 0.5)
        ax.set_yticklabels([f"{nd} ({zones.get(nd) or '?'})" for nd in nodes], fontsize=7)
        ax.invert_yaxis()
        pos = ax.get_position()
        cax = fig.add_axes((_RIGHT + 0.01, pos.y0, 0.012, pos.height))
        fig.colorbar(mesh, cax=cax, label="running pods")
    axis.decorate(ax, label=True)
    ax.set_xlabel("seconds since run start")
    return _chart("nodes", "Pods per node", "running pods of the sampled workloads on each node", fig)


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
    axis = _Axis(data)
    return [
        chart_load(data, axis),
        chart_latency(data, axis),
        chart_errors(data, axis, error_limits),
        chart_replicas(data, axis, focus_workloads),
        chart_pdbs(data, axis, focus_pdbs),
        chart_nodes(data, axis),
    ]
