"""What every chart of a run shares: the time axis with the chaos spans, figures, panels, PNG.

Charts are rendered with matplotlib (Agg canvas, no pyplot state) to PNG data URIs. Every chart
shares one time axis: seconds since the run start, the same limits on every chart, with each
chaos experiment shaded and labelled and each chaos action drawn as a darker band.
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
from aideon_resilience.core.evidence.timeline import ChaosActivity, ExperimentEvent, matches

COLOURS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]
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


class TimeAxis:
    """The shared time axis and the chaos spans drawn on every chart."""

    def __init__(self, data: RunData) -> None:
        self.t0 = data.t0
        self.xmax = max(1.0, data.data_end() - data.t0)
        tl = data.timeline
        self.experiments: list[ExperimentEvent] = list(tl.experiments) if tl else []
        self.actions: list[ChaosActivity] = [a for a in tl.chaos if a.type == "action"] if tl else []
        self.colour = {
            name: COLOURS[i % len(COLOURS)]
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
_LEFT, RIGHT = 0.12, 0.90
_TOP_IN, _BOTTOM_IN = 0.30, 0.55


def figure(rows: int = 1, cols: int = 1, row_h: float = 2.6) -> tuple[Figure, list[Axes]]:
    height = _TOP_IN + _BOTTOM_IN + row_h * rows
    fig = Figure(figsize=(_WIDTH_IN, height), dpi=_DPI)
    # no sharex: matplotlib's shared-axis transforms cost grows with the panel count; every
    # axis gets the same limits from TimeAxis.decorate instead
    axes = fig.subplots(rows, cols, squeeze=False)
    fig.subplots_adjust(
        left=_LEFT,
        right=RIGHT,
        top=1 - _TOP_IN / height,
        bottom=_BOTTOM_IN / height,
        hspace=0.45 if rows > 1 else 0.2,
        wspace=0.18,
    )
    return fig, [ax for row in axes for ax in row]


def no_data(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} recorded", transform=ax.transAxes, ha="center", va="center", color="#888")


def chart(key: str, title: str, caption: str, fig: Figure) -> Chart:
    uri, w, h = _png(fig)
    return Chart(key=key, title=title, caption=caption, data_uri=uri, width=w, height=h)


def steps(ax: Axes, x: np.ndarray, y: Sequence[float], xmax: float, **kw: object) -> None:
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


def _label(ax: Axes, text: str) -> None:
    """The panel's name above its top left corner (cheaper to lay out than a title)."""
    ax.text(0.0, 1.02, text, transform=ax.transAxes, fontsize=8, ha="left", va="bottom")


def _grid(n: int) -> tuple[int, int]:
    cols = 1 if n <= 1 else 2 if n <= 4 else 3
    return max(1, math.ceil(n / cols)), cols


def split_steady(
    series: dict[str, list[T]], changed: Callable[[list[T]], bool], focus: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Panels worth drawing (in focus, or something changed) and the steady rest, by key."""
    drawn: list[str] = []
    steady: list[str] = []
    for key in sorted(series):
        (drawn if matches(key, focus) or changed(series[key]) else steady).append(key)
    return drawn, steady


def steady_note(steady: list[str], what: str) -> str:
    if not steady:
        return ""
    return f"; steady throughout, not drawn ({len(steady)} {what}): " + ", ".join(steady)


def panels(n: int, row_h: float) -> tuple[Figure, list[Axes], int]:
    rows, cols = _grid(n)
    fig, axes = figure(rows, cols, row_h=row_h if n else 2.6)
    for ax in axes[n:]:
        if n:
            ax.set_visible(False)
    for ax in axes[: max(0, n - cols)]:
        ax.tick_params(labelbottom=False)  # only the bottom panel of each column is labelled
    axes[max(0, min(n, len(axes)) - 1)].set_xlabel("seconds since run start")
    return fig, axes, cols


def finish_panel(ax: Axes, axis: TimeAxis, key: str, legend: bool) -> None:
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


def small_multiples(
    series: dict[str, list[T]],
    changed: Callable[[list[T]], bool],
    focus: Sequence[str],
    row_h: float,
    what: str,
    draw: Callable[[Axes, list[T]], None],
    axis: TimeAxis,
) -> tuple[Figure, list[str]]:
    """A panel per series worth drawing (`split_steady`), each drawn by `draw`; returns the figure
    and the steady keys left out."""
    drawn, steady = split_steady(series, changed, focus)
    fig, axes, _ = panels(len(drawn), row_h)
    if not drawn:
        no_data(axes[0], f"{what} change" if series else f"{what} sample")
    for i, key in enumerate(drawn):
        draw(axes[i], series[key])
        finish_panel(axes[i], axis, key, i == 0)
    return fig, steady
