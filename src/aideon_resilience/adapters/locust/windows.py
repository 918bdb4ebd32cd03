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

The accumulators and the windowing are in `window_book`; this module is the Locust wiring.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from aideon_resilience.adapters.locust.plugin import refuse_option, register
from aideon_resilience.adapters.locust.window_book import SecondBook, WindowBook
from aideon_resilience.core.evidence.loadstats import write_windows

log = logging.getLogger("aideon.windows")

REPORT_KEY = "aideon_windows"
DEFAULT_WINDOW_S = 5
# A worker reports every 3 s (locust.runners.WORKER_REPORT_INTERVAL); the master waits this long
# after a window's end before writing it, so late reports still land in their window.
DISTRIBUTED_GRACE_S = 4.5
LOCAL_GRACE_S = 0.3


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
        from locust.runners import MasterRunner, WorkerRunner  # Locust and gevent: only inside a Locust process

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
        import gevent  # Locust and gevent: only inside a Locust process

        self.windows.begin(time.time())
        if self._greenlet is None and self.path is not None:
            self._greenlet = gevent.spawn(self._loop)

    def on_test_stop(self, **_: Any) -> None:
        self.stopping = True

    def _loop(self) -> None:
        import gevent  # Locust and gevent: only inside a Locust process

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


def _on_init(environment: Any, opts: Any) -> None:
    try:
        window_s = parse_window_seconds(getattr(opts, "window_seconds", DEFAULT_WINDOW_S))
    except ValueError as exc:
        refuse_option(str(exc))
        return
    raw = getattr(opts, "windows_file", "") or ""
    path = Path(raw) if raw else None
    from locust.runners import WorkerRunner  # Locust and gevent: only inside a Locust process

    if path is not None and not isinstance(environment.runner, WorkerRunner):
        if not path.parent.is_dir():
            refuse_option(f"--windows-file: {path}: directory {path.parent} does not exist")
        try:
            path.write_text("", encoding="utf-8")  # a fresh file per run
        except OSError as exc:
            refuse_option(f"--windows-file: {path}: cannot write ({exc.strerror})")
    environment.aideon_windows = WindowsListener(environment, path, window_s)


def install() -> None:
    """Register the options and the listener with Locust's global events (once per process)."""
    register("windows", add_options, _on_init)
