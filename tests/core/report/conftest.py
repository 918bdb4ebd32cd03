from __future__ import annotations

from pathlib import Path

import pytest

from aideon_resilience.core.evaluate.verdict import Verdict
from aideon_resilience.core.report import render_run
from tests.core.runfactory import healthy_events, healthy_windows, placement, write_run_dir


@pytest.fixture(scope="session")
def healthy_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Verdict]:
    """A rendered run in which every SLO passes."""
    run_dir = write_run_dir(tmp_path_factory.mktemp("runs") / "healthy", healthy_windows(), healthy_events())
    return run_dir, render_run(run_dir)


@pytest.fixture(scope="session")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Verdict]:
    """A rendered run with a failing SLO (two replicas on one node) and inconclusive client SLOs."""
    events = [*healthy_events(), placement(500, "n2", 2)]
    run_dir = write_run_dir(tmp_path_factory.mktemp("runs") / "mixed", None, events, run_id="run-2")
    return run_dir, render_run(run_dir)
