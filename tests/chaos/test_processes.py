"""Processes a run starts are stopped by `rollback` when their starter was killed outright (issue 12)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from aideon_resilience.chaos import rollback, undo
from aideon_resilience.chaos.processes import ProcessUndo
from aideon_resilience.gate import experiments
from aideon_resilience.gate.experiments import run_experiment

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _gone(*procs: subprocess.Popen[bytes]) -> bool:
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            return False
    return True


def test_rollback_stops_an_orphaned_process_group_first(tmp_path: Path) -> None:
    """A Locust master and its worker left by a gate killed with SIGKILL, with a cordon step after it:
    the group is stopped (SIGTERM) before any other step is undone."""
    log = undo.UndoLog(tmp_path / "undo" / "gate")
    step = ProcessUndo.record(log, "locust", "stop the gate's Locust run")
    leader = subprocess.Popen(SLEEPER, process_group=0)
    worker = subprocess.Popen(SLEEPER, process_group=leader.pid)
    step.started(leader.pid, group=True)
    order: list[str] = []

    @undo.register("test_after", "what")
    def _after(params: dict[str, object], data: dict[str, object]) -> None:
        order.append(f"undone while the group was {'gone' if leader.poll() is not None else 'alive'}")

    undo.UndoLog(tmp_path / "undo" / "run").record("test_after", {"what": "x"}, "a later step")
    try:
        result = rollback.replay(tmp_path)
    finally:
        for p in (leader, worker):
            if p.poll() is None:
                p.kill()
    assert _gone(leader, worker)
    assert result.undone == ["stop the gate's Locust run", "a later step"]
    assert order == ["undone while the group was gone"]
    assert undo.pending_steps(tmp_path) == []


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    log = undo.UndoLog(tmp_path / "undo")
    step = ProcessUndo.record(log, "locust", "stop it")
    bystander = subprocess.Popen(SLEEPER)
    try:
        step.pidfile.write_text(f'{{"pid": {bystander.pid}, "create_time": 1.0, "group": false}}')
        rollback.replay(tmp_path)
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


CHAOS_STANDIN = """
import signal, sys, time
from pathlib import Path
def on_int(*_):
    Path(sys.argv[1]).write_text("rolled back")
    sys.exit(130)
signal.signal(signal.SIGINT, on_int)
time.sleep(120)
"""


def test_an_interrupted_gate_interrupts_its_chaos_run_and_waits_for_its_rollbacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "rolled-back"
    monkeypatch.setattr(experiments, "chaos_command",
                        lambda *_: [sys.executable, "-c", CHAOS_STANDIN, str(marker)])
    (tmp_path / "journals").mkdir()
    # children an earlier test of this session left behind are not this run's
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_experiment(tmp_path / "node-drain.json", tmp_path / "journals", {}, 300, undo_dir=tmp_path / "undo")
    assert marker.read_text() == "rolled back", "the chaos run never got the interrupt"
    assert time.monotonic() - started < 10
    assert undo.pending_steps(tmp_path / "undo") == []
    assert not [p for p in psutil.Process().children(recursive=True)
                if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE]
