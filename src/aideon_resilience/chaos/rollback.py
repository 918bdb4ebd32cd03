"""Replaying an undo log: every pending step undone, newest first, by the action that wrote it.

Importing the action modules registers their undo functions (`undo.register`); this module is
the one place that imports them for that, so `undo` itself stays below the actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aideon_resilience.chaos import (
    actions,  # noqa: F401  (registers every action's undo functions)
    scale,  # noqa: F401  (the in-cluster load generator's scale to zero)
)
from aideon_resilience.chaos.processes import KIND as STOP_PROCESS
from aideon_resilience.chaos.undo import UNDOERS, Step, mark_done, pending_steps, step_problem


@dataclass
class ReplayResult:
    undone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # steps that could not be read as written (path, field and problem): skipped, left pending
    unreadable: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"undone": list(self.undone), "failed": list(self.failed), "unreadable": list(self.unreadable)}


def replay(root: Path, steps: list[Step] | None = None) -> ReplayResult:
    """Undo every pending step under root, newest first; a failed step stays pending, an unreadable
    one is reported and skipped, and the others are replayed all the same."""
    result = ReplayResult()
    steps = steps if steps is not None else pending_steps(root)
    # stop what may still be acting (an orphaned chaos or Locust run) before undoing what it did
    steps = sorted(steps, key=lambda s: s.kind != STOP_PROCESS)  # stable: newest first otherwise
    for step in steps:
        problem = step_problem(step)
        if problem is not None:
            result.unreadable.append(f"{step.path}: {problem}")
            continue
        fn = UNDOERS[step.kind]
        try:
            fn(step.params, step.data)
        except Exception as exc:
            result.failed.append(f"{step.describe()}: {exc}")
            continue
        mark_done(step)
        result.undone.append(step.describe())
    return result
