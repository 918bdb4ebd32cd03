"""Windowed client statistics recorded by the Locust listener and read by probes and reports.

A windows file is JSON Lines: one `WindowStat` per endpoint (and one named `Aggregated`) per
window of a few seconds. Figures are per window, never cumulative.

In a distributed run the master writes the file and each window also says how many workers were
connected (`workers`) and how many of them had reported past the window's end when the master
wrote it (`merged_workers`): a window is merged when every connected worker's share is in it.
Only merged windows count for the client SLOs; a worker that drops out leaves its last windows
unmerged and lowers `workers` from then on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aideon_resilience.core.evidence.timeline import LoadWorkersEvent
from aideon_resilience.errors import InputFileError

AGGREGATED = "Aggregated"
PERCENTILES = ("p50_ms", "p95_ms", "p99_ms")


class WindowStat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: float = Field(description="window start, Unix seconds")
    end: float = Field(description="window end, Unix seconds")
    endpoint: str = Field(description='request name, or "Aggregated" for all of them')
    users: int = Field(ge=0, description="simulated users at the end of the window")
    target_users: int | None = Field(default=None, ge=0, description="users the shape asked for at the window's end")
    requests: int = Field(ge=0)
    failures: int = Field(ge=0)
    rps: float = Field(ge=0)
    error_ratio: float = Field(ge=0, le=1)
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    workers: int | None = Field(default=None, ge=0, description="workers connected to the master (None: one process)")
    merged_workers: int | None = Field(default=None, ge=0, description="workers whose share the master merged")

    @property
    def merged(self) -> bool:
        """Every connected worker's requests are in the window (always so for one process)."""
        return self.workers is None or (self.merged_workers or 0) >= self.workers


def write_windows(path: Path, stats: Iterable[WindowStat]) -> None:
    """Append windows to a JSON Lines file."""
    with path.open("a", encoding="utf-8") as fh:
        for stat in stats:
            fh.write(stat.model_dump_json() + "\n")


def iter_windows(path: Path) -> Iterator[WindowStat]:
    """Read a windows file; a malformed line names the file and line."""
    if not path.is_file():
        raise InputFileError(path, "no such windows file")
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield WindowStat.model_validate(json.loads(line))
            except (UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
                problem = f"line {lineno}: not a window record ({exc.__class__.__name__})"
                raise InputFileError(path, problem) from None


def read_windows(path: Path) -> list[WindowStat]:
    return list(iter_windows(path))


def worker_changes(windows: Iterable[WindowStat], started: int | None = None) -> list[LoadWorkersEvent]:
    """Timeline events where the master's connected workers changed between windows (drop-outs)."""
    events: list[LoadWorkersEvent] = []
    previous = started
    for w in sorted((w for w in windows if w.endpoint == AGGREGATED and w.workers is not None), key=lambda w: w.start):
        assert w.workers is not None
        if previous is not None and w.workers != previous:
            events.append(LoadWorkersEvent(t=w.end, workers=w.workers, previous=previous, started=started))
        previous = w.workers
    return events


def _overlap(a: WindowStat, b: WindowStat) -> float:
    """Share of `b`'s duration that falls inside `a`."""
    inside = min(a.end, b.end) - max(a.start, b.start)
    return max(0.0, inside) / max(b.end - b.start, 1e-9)


def add_extra_load(base: list[WindowStat], extra: list[WindowStat]) -> list[WindowStat]:
    """The run's windows with a second Locust run's (a chaos surge's) requests and users added in.

    Each base window (per endpoint) gains the extra windows' requests and failures in proportion to
    how much of each extra window it covers, and the users (and target users) of the extra window
    running at its end. Its error ratio and rate are recomputed; a latency percentile becomes the
    higher of the two runs' (an upper bound: percentiles of two runs cannot be merged exactly).
    Extra windows outside every base window are not counted: the base load runs the whole run.
    """
    by_endpoint: dict[str, list[WindowStat]] = defaultdict(list)
    for w in extra:
        by_endpoint[w.endpoint].append(w)
    merged: list[WindowStat] = []
    for w in base:
        overlapping = [x for x in by_endpoint.get(w.endpoint, ()) if x.start < w.end and x.end > w.start]
        if not overlapping:
            merged.append(w)
            continue
        requests = w.requests + round(sum(x.requests * _overlap(w, x) for x in overlapping))
        failures = w.failures + round(sum(x.failures * _overlap(w, x) for x in overlapping))
        failures = min(failures, requests)
        at_end = [x for x in overlapping if x.start < w.end <= x.end]
        users = sum(x.users for x in at_end)
        target = sum(x.target_users if x.target_users is not None else x.users for x in at_end)
        merged.append(w.model_copy(update={
            "requests": requests,
            "failures": failures,
            "error_ratio": failures / requests if requests else 0.0,
            "rps": requests / max(w.end - w.start, 1e-9),
            "users": w.users + users,
            "target_users": (w.target_users if w.target_users is not None else w.users) + target,
            **{p: _higher(getattr(w, p), *(getattr(x, p) for x in overlapping)) for p in PERCENTILES},
        }))
    return merged


def _higher(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None
