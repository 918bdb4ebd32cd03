"""Windowed client statistics recorded by the Locust listener and read by probes and reports.

A windows file is JSON Lines: one `WindowStat` per endpoint (and one named `Aggregated`) per
window of a few seconds. Figures are per window, never cumulative.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aideon_resilience.errors import InputFileError

AGGREGATED = "Aggregated"


class WindowStat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: float = Field(description="window start, Unix seconds")
    end: float = Field(description="window end, Unix seconds")
    endpoint: str = Field(description='request name, or "Aggregated" for all of them')
    users: int = Field(ge=0, description="simulated users at the end of the window")
    requests: int = Field(ge=0)
    failures: int = Field(ge=0)
    rps: float = Field(ge=0)
    error_ratio: float = Field(ge=0, le=1)
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


def write_windows(path: Path, stats: Iterable[WindowStat]) -> None:
    """Append windows to a JSON Lines file."""
    with path.open("a", encoding="utf-8") as fh:
        for stat in stats:
            fh.write(stat.model_dump_json() + "\n")


def iter_windows(path: Path) -> Iterator[WindowStat]:
    """Read a windows file; a malformed line names the file and line."""
    if not path.is_file():
        raise InputFileError(path, "no such windows file")
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield WindowStat.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError) as exc:
                problem = f"line {lineno}: not a window record ({exc.__class__.__name__})"
                raise InputFileError(path, problem) from None


def read_windows(path: Path) -> list[WindowStat]:
    return list(iter_windows(path))
