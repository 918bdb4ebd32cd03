"""Windowed client statistics from Locust, merged on the master in distributed runs.

Every process that runs users keeps, per second and per endpoint, the request and failure counts
and a histogram of response times (rounded like Locust rounds them). Workers ship these seconds
to the master with each `report_to_master` message; the master (or the single process of a local
run) groups them into windows of `--window-seconds`, computes rps, error ratio and p50/p95/p99 of
each window from that window's histogram only (not cumulative), and appends the windows to
`--windows-file` (JSON Lines of `core.loadstats.WindowStat`) as soon as they are complete.

The master also records, per window, the workers connected (`runner.worker_count`) and how many
of them had reported after the window's end when it was written (`merged_workers`): a worker that
stopped reporting leaves the window unmerged, and the client SLOs skip it.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aideon_resilience.core.loadstats import AGGREGATED, WindowStat, write_windows

log = logging.getLogger("aideon.windows")

REPORT_KEY = "aideon_windows"
DEFAULT_WINDOW_S = 5
# A worker reports every 3 s (locust.runners.WORKER_REPORT_INTERVAL); the master waits this long
# after a window's end before writing it, so late reports still land in their window.
DISTRIBUTED_GRACE_S = 4.5
LOCAL_GRACE_S = 0.3


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


# ---- Locust wiring ------------------------------------------------------------------------------


def _fail_option(message: str) -> None:
    print(f"locust: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def add_options(parser: Any) -> None:
    group = parser.add_argument_group("Aideon windowed statistics")
    group.add_argument(
        "--windows-file",
        type=str,
        default="",
        env_var="AIDEON_WINDOWS_FILE",
        help="append per-window statistics (JSON Lines) to this file; written by the master",
    )
    group.add_argument(
        "--window-seconds",
        type=str,
        default=str(DEFAULT_WINDOW_S),
        env_var="AIDEON_WINDOW_SECONDS",
        help="length of a statistics window in whole seconds (default 5)",
    )


def parse_window_seconds(raw: object) -> int:
    """Validated window length; raises ValueError with a one-line reason."""
    try:
        value = float(str(raw))
    except ValueError:
        raise ValueError(f"--window-seconds: {raw!r} is not a number") from None
    if value < 1 or value != int(value):
        raise ValueError(f"--window-seconds: {raw!r} must be a whole number of seconds >= 1")
    return int(value)


class WindowsListener:
    """The listener of one Locust process."""

    def __init__(self, environment: Any, path: Path | None, window_s: int) -> None:
        from locust.runners import MasterRunner, WorkerRunner

        self.environment = environment
        self.path = path
        self.is_worker = isinstance(environment.runner, WorkerRunner)
        self.is_master = isinstance(environment.runner, MasterRunner)
        self.grace_s = DISTRIBUTED_GRACE_S if self.is_master else LOCAL_GRACE_S
        self.windows = WindowBook(window_s)
        self.seconds = self.windows.book if not self.is_worker else SecondBook()
        self.written = 0
        self.workers_seen: set[str] = set()
        self.stopping = False  # workers quitting at the end are not drop-outs
        self._greenlet: Any = None
        ev = environment.events
        # workers always record (the master decides whether to write); a local run only with a file
        if self.is_worker or (not self.is_master and path is not None):
            ev.request.add_listener(self.on_request)
        if self.is_worker:
            ev.report_to_master.add_listener(self.on_report_to_master)
        else:
            ev.worker_report.add_listener(self.on_worker_report)
            ev.test_start.add_listener(self.on_test_start)
            ev.test_stop.add_listener(self.on_test_stop)
            ev.quitting.add_listener(self.on_quitting)

    def on_request(
        self, request_type: str, name: str, response_time: float | None, exception: Any = None, **_: Any
    ) -> None:
        self.seconds.add_request(time.time(), request_type, name, response_time or 0.0, exception is not None)

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data[REPORT_KEY] = self.seconds.export()

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        rows = data.get(REPORT_KEY)
        self.windows.note_report(client_id, time.time())
        if rows:
            self.workers_seen.add(client_id)
            self.windows.book.merge(rows)

    def on_test_start(self, **_: Any) -> None:
        import gevent

        self.windows.begin(time.time())
        if self._greenlet is None and self.path is not None:
            self._greenlet = gevent.spawn(self._loop)

    def on_test_stop(self, **_: Any) -> None:
        self.stopping = True

    def _loop(self) -> None:
        import gevent

        while True:
            self.tick(time.time())
            gevent.sleep(1.0)

    def tick(self, now: float, final: bool = False) -> None:
        runner = self.environment.runner
        if runner is not None:
            target = getattr(runner, "target_user_count", None)
            self.windows.note_users(now, int(runner.user_count), None if target is None else int(target))
            if self.is_master and not self.stopping and not final:
                self.windows.note_workers(now, int(runner.worker_count))
        stats = self.windows.pop_complete(now, self.grace_s, final=final)
        if stats and self.path is not None:
            write_windows(self.path, stats)
            self.written += len(stats)

    def on_quitting(self, **_: Any) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None
        if self.path is None:
            return
        self.tick(time.time(), final=True)
        source = f" (from {len(self.workers_seen)} workers)" if self.is_master else ""
        log.info("aideon windows: wrote %d records to %s%s", self.written, self.path, source)


_installed = False


def install() -> None:
    """Register the options and the listener with Locust's global events (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    from locust import events

    events.init_command_line_parser.add_listener(add_options)

    @events.init.add_listener
    def _on_init(environment: Any, **_: Any) -> None:
        opts = environment.parsed_options
        if opts is None:
            return
        try:
            window_s = parse_window_seconds(getattr(opts, "window_seconds", DEFAULT_WINDOW_S))
        except ValueError as exc:
            _fail_option(str(exc))
            return
        raw = getattr(opts, "windows_file", "") or ""
        path = Path(raw) if raw else None
        from locust.runners import WorkerRunner

        if path is not None and not isinstance(environment.runner, WorkerRunner):
            if not path.parent.is_dir():
                _fail_option(f"--windows-file: {path}: directory {path.parent} does not exist")
            try:
                path.write_text("", encoding="utf-8")  # a fresh file per run
            except OSError as exc:
                _fail_option(f"--windows-file: {path}: cannot write ({exc.strerror})")
        environment.aideon_windows = WindowsListener(environment, path, window_s)
