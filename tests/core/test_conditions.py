"""is_ready reads the Ready condition of an API client object the way kubectl shows READY."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from aideon_resilience.core.conditions import is_ready


def cond(type_: str, status: str) -> NS:
    return NS(type=type_, status=status)


@pytest.mark.parametrize(
    ("obj", "ready"),
    [
        (NS(status=NS(conditions=[cond("PodScheduled", "True"), cond("Ready", "True")])), True),
        (NS(status=NS(conditions=[cond("Ready", "False")])), False),
        (NS(status=NS(conditions=[cond("Ready", "Unknown")])), False),
        (NS(status=NS(conditions=[cond("ContainersReady", "True")])), False),
        (NS(status=NS(conditions=None)), False),
        (NS(status=None), False),
        (NS(), False),
    ],
    ids=["ready", "not-ready", "unknown", "other-condition", "no-conditions", "no-status", "no-status-field"],
)
def test_only_a_true_ready_condition_is_ready(obj: NS, ready: bool) -> None:
    assert is_ready(obj) is ready
