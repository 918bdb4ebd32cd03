"""Live evidence from the actions, as timeline events (``core.timeline`` format, one JSON line each).

Written while actions run, so the evidence survives an action that fails or a run that is
killed (a failed activity's return value never reaches the journal). The file is
``$AIDEON_CHAOS_EVIDENCE_FILE`` (the gate points it at its run directory), else
``evidence.jsonl`` in the run's undo directory. Events written today:

- ``{"t", "kind": "eviction_refused", "namespace", "pod", "pdb", "node"}`` for every 429.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from aideon_resilience.chaos import undo
from aideon_resilience.settings import settings

logger = logging.getLogger("chaostoolkit")


def path() -> Path:
    configured = settings().path("AIDEON_CHAOS_EVIDENCE_FILE")
    if configured is not None:
        return configured
    return undo.current().directory / "evidence.jsonl"


def emit(event: dict[str, Any]) -> None:
    """Append one event; never lets a write problem break the action."""
    target = path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(event, sort_keys=True) + "\n").encode("utf-8")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        logger.warning(f"could not record evidence in {target}: {exc}")
