"""One writer for the timeline: typed events, whole lines, shared by threads and processes."""

from __future__ import annotations

import multiprocessing
import re
import threading
from pathlib import Path

import pytest

from aideon_resilience.core.evidence.timeline import EvictionRefused, NodeSample, load_timeline
from aideon_resilience.core.evidence.timeline_writer import TimelineWriter

SRC = Path(__file__).resolve().parents[2] / "src" / "aideon_resilience"


def _refusals(path: Path, n: int) -> None:
    with TimelineWriter(path) as writer:
        for i in range(n):
            writer.write(EvictionRefused(t=1000 + i, namespace="ns", pod=f"p{i}" * 40, pdb="b", node="n"))


def test_threads_and_processes_append_whole_typed_lines(tmp_path: Path) -> None:
    path = tmp_path / "timeline.jsonl"
    child = multiprocessing.get_context("spawn").Process(target=_refusals, args=(path, 300))
    child.start()
    with TimelineWriter(path) as writer:
        threads = [threading.Thread(target=lambda k=k: [writer.write(NodeSample(
            t=2000 + i, name=f"node-{k}-{i}", zone="zone-a", ready=True, unschedulable=False)) for i in range(200)])
            for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert writer.count == 600
    child.join(60)
    timeline = load_timeline(path)
    assert timeline.skipped == 0
    assert len(timeline.nodes) == 600 and len(timeline.refusals) == 300


def test_a_closed_writer_refuses(tmp_path: Path) -> None:
    writer = TimelineWriter(tmp_path / "t.jsonl")
    writer.close()
    with pytest.raises(ValueError, match="the timeline writer is closed"):
        writer.write(NodeSample(t=1, name="n", ready=True, unschedulable=False))


def test_nothing_else_writes_a_timeline_file() -> None:
    writers = []
    for module in SRC.rglob("*.py"):
        text = module.read_text(encoding="utf-8")
        if re.search(r"TIMELINE_FILE\)?\.open\(|O_APPEND|timeline\.jsonl\"\)\.open\(", text):
            writers.append(module.relative_to(SRC).as_posix())
    assert writers == ["core/evidence/timeline_writer.py"]
