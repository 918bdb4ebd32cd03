"""The one way timeline events are written: typed events, one JSON line each.

The gate's sampler threads, the modelled load, the chaos processes' live evidence and the
evidence merged after the suite all append to a run's `timeline.jsonl` through this writer. Each
event is serialised from its model (`core.timeline`), never built by hand, and appended with one
`write` on a file opened with O_APPEND, so threads of one process (under a lock) and several
processes can share the file without interleaving lines.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from aideon_resilience.core.evidence.timeline import TimelineEvent


class TimelineWriter:
    """Appends typed events to a timeline file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.count = 0

    def write(self, event: TimelineEvent) -> None:
        line = (event.model_dump_json() + "\n").encode("utf-8")
        with self._lock:
            if self._fd is None:
                raise ValueError(f"{self.path}: the timeline writer is closed")
            os.write(self._fd, line)
            self.count += 1

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> TimelineWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
