"""Charts of what the cluster did: replicas against HPA bounds, PDBs against their minimum, pods per node."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from matplotlib.axes import Axes

from aideon_resilience.core.evaluate import RunData
from aideon_resilience.core.evidence.timeline import PdbSample, WorkloadSample
from aideon_resilience.core.report.chart_canvas import (
    COLOURS,
    RIGHT,
    Chart,
    TimeAxis,
    chart,
    figure,
    no_data,
    small_multiples,
    steady_note,
    steps,
)

T = TypeVar("T")


def _varies(samples: list[T], state: Callable[[T], tuple[object, ...]]) -> bool:
    first = state(samples[0])
    return any(state(s) != first for s in samples)


def _workload_changed(samples: list[WorkloadSample]) -> bool:
    return _varies(samples, lambda s: (s.replicas, s.ready, s.hpa_desired, s.hpa_min, s.hpa_max))


def chart_replicas(data: RunData, axis: TimeAxis, focus: Sequence[str] = ()) -> Chart:
    series = data.timeline.workload_series() if data.timeline else {}
    return _per_key_chart(
        ("replicas", "Replicas against HPA bounds", "per workload: replicas, ready, HPA min/max/desired"),
        series, _workload_changed, focus, (1.9, "workload", "workloads"),
        lambda ax, samples: _workload_panel(ax, axis, samples), axis,
        lambda first: f"{first.replicas}",
    )


def _per_key_chart(
    names: tuple[str, str, str],
    series: dict[str, list[T]],
    changed: Callable[[list[T]], bool],
    focus: Sequence[str],
    rows: tuple[float, str, str],
    draw: Callable[[Axes, list[T]], None],
    axis: TimeAxis,
    steady_value: Callable[[T], str],
) -> Chart:
    """A small-multiples chart, `names` its (name, title, caption), `rows` its (row height, what one
    series is, what several are); the steady series are named in the caption with their value."""
    name, title, caption = names
    row_h, what, whats = rows
    fig, steady = small_multiples(series, changed, focus, row_h, what, draw, axis)
    note = steady_note([f"{k} ({steady_value(series[k][0])})" for k in steady], whats)
    return chart(name, title, caption + note, fig)


def _workload_panel(ax: Axes, axis: TimeAxis, samples: list[WorkloadSample]) -> None:
    x = axis.rel([s.t for s in samples])
    steps(ax, x, [s.replicas for s in samples], axis.xmax, color=COLOURS[0], label="replicas")
    steps(ax, x, [s.ready for s in samples], axis.xmax, color=COLOURS[2], label="ready")
    hpa = [s for s in samples if s.hpa_max is not None]
    if hpa:
        hx = axis.rel([s.t for s in hpa])
        steps(ax, hx, [float(s.hpa_min or 0) for s in hpa], axis.xmax, color="#777", linestyle="--",
              linewidth=0.8, label="HPA min/max")
        steps(ax, hx, [float(s.hpa_max or 0) for s in hpa], axis.xmax, color="#777", linestyle="--", linewidth=0.8)
        des = [s for s in hpa if s.hpa_desired is not None]
        if des:
            steps(ax, axis.rel([s.t for s in des]), [float(s.hpa_desired or 0) for s in des], axis.xmax,
                  color=COLOURS[1], linestyle=":", label="HPA desired")


def _pdb_changed(samples: list[PdbSample]) -> bool:
    below = any(s.current_healthy < s.desired_healthy for s in samples)
    return below or _varies(samples, lambda s: (s.current_healthy, s.desired_healthy))


def chart_pdbs(data: RunData, axis: TimeAxis, focus: Sequence[str] = ()) -> Chart:
    series = data.timeline.pdb_series() if data.timeline else {}
    return _per_key_chart(
        ("pdbs", "PDB healthy against minimum", "per PodDisruptionBudget"),
        series, _pdb_changed, focus, (1.7, "PDB", "PDBs"),
        lambda ax, samples: _pdb_panel(ax, axis, samples), axis,
        lambda first: f"{first.current_healthy}/{first.desired_healthy}",
    )


def _pdb_panel(ax: Axes, axis: TimeAxis, samples: list[PdbSample]) -> None:
    x = axis.rel([s.t for s in samples])
    steps(ax, x, [s.current_healthy for s in samples], axis.xmax, color=COLOURS[2], label="healthy")
    steps(ax, x, [s.desired_healthy for s in samples], axis.xmax, color=COLOURS[3], linestyle="--",
          label="minimum (desired healthy)")
    steps(ax, x, [s.disruptions_allowed for s in samples], axis.xmax, color="#999", linestyle=":",
          linewidth=0.8, label="disruptions allowed")


def chart_nodes(data: RunData, axis: TimeAxis) -> Chart:
    tl = data.timeline
    per_node = tl.pods_per_node() if tl else {}
    n = len(per_node)
    fig, (ax,) = figure(row_h=max(2.0, 0.28 * n + 0.8))
    if not per_node or tl is None:
        no_data(ax, "pod placement")
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
        mesh = ax.pcolormesh(
            edges,
            np.arange(len(nodes) + 1),
            grid,
            cmap="Blues",
            shading="flat",
            vmin=0,
            vmax=max(1.0, float(grid.max())),
        )
        ax.set_yticks(np.arange(len(nodes)) + 0.5)
        ax.set_yticklabels([f"{nd} ({zones.get(nd) or '?'})" for nd in nodes], fontsize=7)
        ax.invert_yaxis()
        pos = ax.get_position()
        cax = fig.add_axes((RIGHT + 0.01, pos.y0, 0.012, pos.height))
        fig.colorbar(mesh, cax=cax, label="running pods")
    axis.decorate(ax, label=True)
    ax.set_xlabel("seconds since run start")
    return chart("nodes", "Pods per node", "running pods of the sampled workloads on each node", fig)
