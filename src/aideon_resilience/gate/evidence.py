"""Evidence that joins the sampler's timeline after the suite: the journals' events, the actions'
live evidence (written by the chaos processes) and the target's own events (proxy ejections)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from aideon_resilience.core.rundir import TIMELINE_FILE
from aideon_resilience.core.timeline import TimelineEvent, parse_event
from aideon_resilience.gate.experiments import ExperimentRun

EVIDENCE_FILE = "evidence.jsonl"


def merge_into_timeline(run_dir: Path, runs: list[ExperimentRun], target_events: Sequence[TimelineEvent] = ()) -> int:
    """Append the evidence to the run's timeline; returns the events added."""
    added = 0
    with (run_dir / TIMELINE_FILE).open("a", encoding="utf-8") as fh:
        for event in target_events:
            fh.write(event.model_dump_json() + "\n")
            added += 1
        for run in runs:
            if run.summary is None:
                continue
            for record in run.summary.events:
                fh.write(json.dumps(record) + "\n")
                added += 1
        evidence = run_dir / EVIDENCE_FILE
        if evidence.is_file():  # written by the chaos processes; lines of an unknown kind are left out
            for line in evidence.read_text(encoding="utf-8").splitlines():
                if line.strip() and parse_event(line) is not None:
                    fh.write(line.strip() + "\n")
                    added += 1
    return added
