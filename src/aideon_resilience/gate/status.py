"""Where a gate run stands, for a live display: phase, experiment n of m, time used and left.

The gate updates one `RunStatus` as it goes; a display reads it from another thread (reads of a
few plain attributes, no lock needed). Users and error ratio come from the newest client window
the load wrote (`latest_window`), so the display shows what Locust measured, not a guess.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from aideon_resilience.core.evidence.loadstats import AGGREGATED, WindowStat


@dataclass
class RunStatus:
    phase: str = "checks"
    experiment: str | None = None
    index: int = 0  # experiment n (1-based) of `total`
    total: int = 0
    started: float = field(default_factory=time.monotonic)
    bound_s: float | None = None  # the gate's own bound once the suite starts (max_seconds + cooldown)
    suite_started: float | None = None
    windows_file: Path | None = None

    def elapsed_s(self, now: float | None = None) -> float:
        return (now if now is not None else time.monotonic()) - self.started

    def estimate_left_s(self, now: float | None = None) -> float | None:
        """Time left: the mean experiment so far times those still to run, never past the bound."""
        if self.suite_started is None or self.total == 0:
            return None
        now = now if now is not None else time.monotonic()
        spent = now - self.suite_started
        done = max(self.index - 1, 0)
        per = spent / done if done else None
        left = per * (self.total - done) if per is not None else None
        if self.bound_s is not None:
            cap = max(self.bound_s - spent, 0.0)
            left = cap if left is None else min(left, cap)
        return left


def latest_window(path: Path | None, tail_bytes: int = 8192) -> WindowStat | None:
    """The newest `Aggregated` window of a windows file (read from its end), or None."""
    if path is None or not path.is_file():
        return None
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(size - tail_bytes, 0))
        lines = fh.read().decode("utf-8", errors="replace").splitlines()
    for line in reversed(lines):
        try:
            data = json.loads(line)
        except ValueError:
            continue  # the partial first line of the tail, or one being written
        if isinstance(data, dict) and data.get("endpoint") == AGGREGATED:
            try:
                return WindowStat.model_validate(data)
            except ValueError:
                return None
    return None
