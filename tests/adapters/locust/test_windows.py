from __future__ import annotations

import json

import pytest

from aideon_resilience.adapters.locust.window_book import SecondBook, WindowBook, percentile, round_ms
from aideon_resilience.adapters.locust.windows import parse_window_seconds
from aideon_resilience.core.evidence.loadstats import AGGREGATED, WindowStat


def test_round_ms_like_locust() -> None:
    assert [round_ms(x) for x in (3.4, 99.6, 147, 1234, 23456)] == [3, 100, 150, 1200, 23000]


def test_percentile_of_histogram() -> None:
    hist = {10: 90, 100: 9, 1000: 1}
    assert percentile(hist, 0.5) == 10
    assert percentile(hist, 0.95) == 100
    assert percentile(hist, 0.99) == 100
    assert percentile(hist, 1.0) == 1000
    assert percentile({}, 0.5) is None


def test_worker_export_merges_on_master_through_json() -> None:
    w1, w2, master = SecondBook(), SecondBook(), SecondBook()
    w1.add_request(100.2, "GET", "/a", 5, False)
    w1.add_request(100.7, "GET", "/a", 7, True)
    w2.add_request(100.1, "GET", "/a", 5, False)
    for book in (w1, w2):
        master.merge(json.loads(json.dumps(book.export())))
    assert w1.export() == []  # exporting clears
    acc = master.seconds[(100, "GET /a")]
    assert (acc.requests, acc.failures, acc.hist) == (3, 1, {5: 2, 7: 1})


def _by(stats: list[WindowStat]) -> dict[tuple[float, str], WindowStat]:
    return {(s.start, s.endpoint): s for s in stats}


def test_windows_are_per_window_not_cumulative() -> None:
    book = WindowBook(5)
    book.begin(100.0)
    book.note_users(101, 10)
    for i in range(20):  # slow first window
        book.book.add_request(100 + i * 0.2, "GET", "/a", 900, False)
    for i in range(50):  # fast second window, some failures on another endpoint
        book.book.add_request(105 + i * 0.05, "GET", "/a", 10, False)
    for _ in range(10):
        book.book.add_request(107, "POST", "/b", 20, True)
    book.note_users(106, 20)
    early = book.pop_complete(now=109.0, grace_s=0.5)
    assert {s.start for s in early} == {100}
    stats = _by(early + book.pop_complete(now=110.6, grace_s=0.5))
    assert set(stats) == {(100, "GET /a"), (100, AGGREGATED), (105, "GET /a"), (105, "POST /b"), (105, AGGREGATED)}
    first, second = stats[(100, AGGREGATED)], stats[(105, AGGREGATED)]
    assert (first.requests, first.p95_ms, first.users, first.rps) == (20, 900, 10, 4.0)
    assert (second.requests, second.failures, second.p50_ms, second.users) == (60, 10, 10, 20)
    assert second.error_ratio == pytest.approx(10 / 60, abs=1e-5)
    assert stats[(105, "GET /a")].p99_ms == 10  # not polluted by the slow first window
    assert stats[(105, "POST /b")].error_ratio == 1.0


def test_first_window_starts_when_the_test_started() -> None:
    book = WindowBook(5)
    book.begin(103.0)
    book.book.add_request(104, "GET", "/a", 1, False)
    _, aggregated = book.pop_complete(now=106, grace_s=0)
    assert (aggregated.start, aggregated.end, aggregated.rps) == (103.0, 105, 0.5)


def test_grace_holds_a_window_until_late_reports_can_arrive() -> None:
    book = WindowBook(5)
    book.begin(100)
    book.book.add_request(101, "GET", "/a", 1, False)
    assert book.pop_complete(now=106, grace_s=4.5) == []
    assert [s.endpoint for s in book.pop_complete(now=109.6, grace_s=4.5)] == ["GET /a", AGGREGATED]


def test_empty_windows_get_an_aggregated_record_with_zero_requests() -> None:
    book = WindowBook(2)
    book.begin(100)
    book.book.add_request(100.5, "GET", "/a", 1, False)
    book.book.add_request(106.5, "GET", "/a", 1, False)
    stats = book.pop_complete(now=110, grace_s=0)
    aggregated = [(s.start, s.requests, s.p50_ms) for s in stats if s.endpoint == AGGREGATED]
    assert aggregated == [(100, 1, 1), (102, 0, None), (104, 0, None), (106, 1, 1), (108, 0, None)]


def test_final_flush_writes_the_partial_last_window_and_drops_late_records() -> None:
    book = WindowBook(5)
    book.begin(100)
    book.book.add_request(101, "GET", "/a", 1, False)
    book.book.add_request(107, "GET", "/a", 1, False)
    stats = book.pop_complete(now=108.0, grace_s=4.5, final=True)
    last = [s for s in stats if s.endpoint == AGGREGATED][-1]
    assert (last.start, last.end, last.requests) == (105, 108.0, 1)
    assert last.rps == pytest.approx(1 / 3, abs=1e-3)
    book.book.add_request(102, "GET", "/a", 1, False)  # arrives after its window was written
    later = book.pop_complete(now=120, grace_s=0, final=True)
    assert [s.start for s in later] == [110, 115]
    assert all(s.requests == 0 and s.endpoint == AGGREGATED for s in later)


@pytest.mark.parametrize("raw", ["0", "-5", "2.5", "x"])
def test_bad_window_seconds(raw: str) -> None:
    with pytest.raises(ValueError, match="--window-seconds"):
        parse_window_seconds(raw)


def test_window_seconds_ok() -> None:
    assert parse_window_seconds("5") == 5 and parse_window_seconds(3.0) == 3


def test_master_windows_record_workers_and_whether_every_share_was_merged() -> None:
    book = WindowBook(5)
    book.begin(100.0)
    for t in (101, 104):
        book.note_workers(t, 2)
    book.note_report("w1", 103.0)
    book.note_report("w2", 103.5)
    book.book.add_request(101, "GET", "/a", 5, False)
    book.note_report("w1", 106.0)  # both report after the first window's end
    book.note_report("w2", 106.5)
    book.note_workers(106, 2)
    book.note_report("w1", 109.0)  # w2 went silent: its share of the second window is missing
    book.note_workers(111, 1)  # ... and the master counts it out
    book.note_report("w1", 116.0)
    stats = [s for s in book.pop_complete(now=120.0, grace_s=4.5) if s.endpoint == AGGREGATED]
    assert [(s.start, s.workers, s.merged_workers, s.merged) for s in stats] == [
        (100, 2, 2, True), (105, 2, 1, False), (110, 1, 1, True)]


def test_a_single_process_records_no_workers() -> None:
    book = WindowBook(5)
    book.begin(100.0)
    book.book.add_request(101, "GET", "/a", 5, False)
    (agg,) = [s for s in book.pop_complete(now=110.0, grace_s=0.3) if s.endpoint == AGGREGATED]
    assert agg.workers is None and agg.merged
    assert '"workers":null' in agg.model_dump_json()
