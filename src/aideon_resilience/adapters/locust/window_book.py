"""Per-second accumulators and the windows built from them, without Locust.

A process records each request in a `SecondBook` (per second and endpoint: counts and a
histogram of response times rounded like Locust rounds them); a worker ships its book to the
master, which merges it. `WindowBook` groups the seconds into windows and turns each complete
window into `core.loadstats.WindowStat`s whose percentiles come from that window's histogram
only. The Locust listener that drives this is in `windows`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aideon_resilience.core.evidence.loadstats import AGGREGATED, WindowStat

log = logging.getLogger("aideon.windows")


def round_ms(ms: float) -> int:
    """Response time rounded the way Locust's statistics round it (2 significant digits above 100)."""
    if ms < 100:
        return round(ms)
    if ms < 1000:
        return int(round(ms, -1))
    if ms < 10000:
        return int(round(ms, -2))
    return int(round(ms, -3))


def percentile(hist: dict[int, int], q: float) -> float | None:
    """The q-quantile (0..1) of a histogram {rounded ms: count}: the smallest value covering q of it."""
    total = sum(hist.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return float(value)
    return float(max(hist))


@dataclass
class Acc:
    requests: int = 0
    failures: int = 0
    hist: dict[int, int] = field(default_factory=dict)

    def add(self, ms: float, failed: bool) -> None:
        self.requests += 1
        if failed:
            self.failures += 1
        key = round_ms(ms)
        self.hist[key] = self.hist.get(key, 0) + 1

    def merge(self, other: Acc) -> None:
        self.requests += other.requests
        self.failures += other.failures
        for k, v in other.hist.items():
            self.hist[k] = self.hist.get(k, 0) + v


class SecondBook:
    """Per-second, per-endpoint accumulators: what a process records and a worker ships."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[int, str], Acc] = {}
        self._raw: dict[tuple[int, str, str], Acc] = {}

    def add(self, when: float, endpoint: str, ms: float, failed: bool) -> None:
        key = (int(when), endpoint)
        acc = self.seconds.get(key)
        if acc is None:
            acc = self.seconds[key] = Acc()
        acc.add(ms, failed)

    def add_request(self, when: float, method: str, name: str, ms: float, failed: bool) -> None:
        """`add` on the hot path of every request: one dict lookup, no string building."""
        key = (int(when), method, name)
        acc = self._raw.get(key)
        if acc is None:
            acc = self._raw[key] = Acc()
        acc.requests += 1
        if failed:
            acc.failures += 1
        rounded = round(ms) if ms < 100 else round_ms(ms)
        acc.hist[rounded] = acc.hist.get(rounded, 0) + 1

    def fold(self) -> None:
        for (sec, method, name), acc in self._raw.items():
            key = (sec, f"{method} {name}")
            have = self.seconds.get(key)
            if have is None:
                self.seconds[key] = acc
            else:
                have.merge(acc)
        self._raw = {}

    def export(self) -> list[list[Any]]:
        """Serialisable form (lists only: msgpack and JSON friendly); clears the book."""
        self.fold()
        out = [
            [sec, endpoint, a.requests, a.failures, [[k, v] for k, v in a.hist.items()]]
            for (sec, endpoint), a in self.seconds.items()
        ]
        self.seconds = {}
        return out

    def merge(self, rows: Iterable[list[Any]]) -> None:
        for sec, endpoint, requests, failures, pairs in rows:
            key = (int(sec), str(endpoint))
            acc = self.seconds.get(key)
            if acc is None:
                acc = self.seconds[key] = Acc()
            acc.merge(Acc(int(requests), int(failures), {int(k): int(v) for k, v in pairs}))


def _stat(start: float, end: float, endpoint: str, users: tuple[int, int | None], acc: Acc,
          workers: tuple[int, int] | None = None) -> WindowStat:
    duration = max(end - start, 1e-9)
    return WindowStat(
        target_users=users[1],
        workers=None if workers is None else workers[0],
        merged_workers=None if workers is None else workers[1],
        start=start,
        end=end,
        endpoint=endpoint,
        users=users[0],
        requests=acc.requests,
        failures=acc.failures,
        rps=round(acc.requests / duration, 3),
        error_ratio=round(acc.failures / acc.requests, 6) if acc.requests else 0.0,
        p50_ms=percentile(acc.hist, 0.50),
        p95_ms=percentile(acc.hist, 0.95),
        p99_ms=percentile(acc.hist, 0.99),
    )


class WindowBook:
    """Groups seconds into windows and turns complete windows into `WindowStat`s."""

    def __init__(self, window_s: int) -> None:
        if window_s < 1:
            raise ValueError("window length must be at least 1 second")
        self.window_s = window_s
        self.book = SecondBook()
        self.users_at: dict[int, int] = {}
        self.target_at: dict[int, int] = {}
        self.workers_at: dict[int, int] | None = None  # connected workers by window (masters only)
        self.last_report: dict[str, float] = {}  # worker id -> when its newest report arrived
        self.next_start: int | None = None  # first window not yet written
        self.started_at: float | None = None  # the first window starts here, not at its boundary

    def window_of(self, when: float) -> int:
        return int(when) // self.window_s * self.window_s

    def begin(self, when: float) -> None:
        if self.next_start is None:
            self.next_start = self.window_of(when)
            self.started_at = when

    def note_users(self, when: float, users: int, target: int | None = None) -> None:
        self.users_at[self.window_of(when)] = users
        if target is not None:
            self.target_at[self.window_of(when)] = target

    def note_workers(self, when: float, workers: int) -> None:
        if self.workers_at is None:
            self.workers_at = {}
        self.workers_at[self.window_of(when)] = workers

    def note_report(self, worker: str, when: float) -> None:
        self.last_report[worker] = when

    def _users(self, start: int) -> tuple[int, int | None]:
        return _at(self.users_at, start), (_at(self.target_at, start) if self.target_at else None)

    def _workers(self, end: float) -> tuple[int, int] | None:
        """(connected at the window's end, reported since), None in a run without a master."""
        if self.workers_at is None:
            return None
        connected = _at(self.workers_at, int(end) - 1 if end > 0 else 0)
        return connected, sum(1 for t in self.last_report.values() if t >= end)

    def pop_complete(self, now: float, grace_s: float, final: bool = False) -> list[WindowStat]:
        """Windows whose end is `grace_s` in the past (all of them when `final`), oldest first.

        Every window from the first one on gets an `Aggregated` record, also when it saw no
        request (a hung target shows as rps 0); endpoints appear in the windows they were used.
        """
        self.book.fold()
        if self.next_start is None:
            if not self.book.seconds:
                return []
            self.next_start = self.window_of(min(s for s, _ in self.book.seconds))
        late = [k for k in self.book.seconds if k[0] < self.next_start]
        for k in late:  # arrived after their window was written: counted nowhere, logged
            self.book.seconds.pop(k)
        if late:
            log.warning("aideon windows: %d late per-second records dropped", len(late))
        out: list[WindowStat] = []
        if final:
            last_sec = max((s for s, _ in self.book.seconds), default=None)
            limit = now if last_sec is None else max(now, last_sec + 1)
            while self.next_start < limit:
                start = self.next_start
                out.extend(self._emit(start, min(start + self.window_s, limit)))
                self.next_start = start + self.window_s
            return out
        while self.next_start + self.window_s + grace_s <= now:
            start = self.next_start
            out.extend(self._emit(start, start + self.window_s))
            self.next_start = start + self.window_s
        return out

    def _emit(self, start: int, end: float) -> list[WindowStat]:
        per_endpoint: dict[str, Acc] = {}
        for key in [k for k in self.book.seconds if start <= k[0] < start + self.window_s]:
            acc = self.book.seconds.pop(key)
            per_endpoint.setdefault(key[1], Acc()).merge(acc)
        users = self._users(start)
        workers = self._workers(end)
        shown = max(float(start), self.started_at) if self.started_at is not None else float(start)
        shown = min(shown, end)
        total = Acc()
        stats: list[WindowStat] = []
        for endpoint in sorted(per_endpoint):
            acc = per_endpoint[endpoint]
            total.merge(acc)
            stats.append(_stat(shown, end, endpoint, users, acc, workers))
        stats.append(_stat(shown, end, AGGREGATED, users, total, workers))
        for book in (self.users_at, self.target_at, self.workers_at or {}):
            for s in [s for s in book if s < start]:
                if s != max(book):
                    del book[s]
        return stats


def _at(book: dict[int, int], start: int) -> int:
    """The value noted for the window starting at `start`, else the latest before it (0 if none)."""
    earlier = [s for s in book if s <= start]
    return book[max(earlier)] if earlier else 0
