"""Live evidence from the actions, as timeline events (``core.timeline`` format, one JSON line each).

Written while actions run, so the evidence survives an action that fails or a run that is
killed (a failed activity's return value never reaches the journal). The file is
``$AIDEON_CHAOS_EVIDENCE_FILE`` (the gate points it at its run's `timeline.jsonl`, which the
chaos processes append to beside the sampler), else ``evidence.jsonl`` in the run's undo
directory. Events are typed (`core.timeline`) and written by `core.timeline_writer`; written
today: `EvictionRefused` for every 429.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aideon_resilience.chaos import undo
from aideon_resilience.core.evidence.timeline import TimelineEvent
from aideon_resilience.core.evidence.timeline_writer import TimelineWriter
from aideon_resilience.settings import settings

logger = logging.getLogger("chaostoolkit")


def path() -> Path:
    configured = settings().path("AIDEON_CHAOS_EVIDENCE_FILE")
    if configured is not None:
        return configured
    return undo.current().directory / "evidence.jsonl"


def emit(event: TimelineEvent) -> None:
    """Append one event; never lets a write problem break the action."""
    target = path()
    try:
        with TimelineWriter(target) as writer:
            writer.write(event)
    except OSError as exc:
        logger.warning(f"could not record evidence in {target}: {exc}")
