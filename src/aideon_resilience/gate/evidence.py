"""Evidence that joins the sampler's timeline after the suite: the journals' events and the
target's own events (proxy ejections). The actions' live evidence needs no merging: the chaos
processes append it to the run's timeline themselves (`AIDEON_CHAOS_EVIDENCE_FILE`)."""

from __future__ import annotations

from collections.abc import Sequence

from aideon_resilience.core.evidence.timeline import TimelineEvent
from aideon_resilience.core.evidence.timeline_writer import TimelineWriter
from aideon_resilience.gate.experiments import ExperimentRun


def merge_into_timeline(writer: TimelineWriter, runs: list[ExperimentRun],
                        target_events: Sequence[TimelineEvent] = ()) -> int:
    """Write the journals' and the target's events to the run's timeline; returns the events added."""
    events: list[TimelineEvent] = [*target_events]
    for run in runs:
        if run.summary is not None:
            events += run.summary.events
    for event in events:
        writer.write(event)
    return len(events)
