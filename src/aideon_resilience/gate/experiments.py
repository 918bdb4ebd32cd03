"""Runs the chaos suite of a gate run: `chaos run` per experiment, journals into the run directory.

The exit code of `chaos run` is not trusted (it is 0 when the steady state broke): each journal
is read instead. Rollbacks always run (`--rollback-strategy always`), and every run is bounded
by the experiment timeout; a run that overstays is interrupted (SIGINT, so its rollbacks and
undo log replay run), then killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aideon_resilience.chaos.processes import ProcessUndo
from aideon_resilience.chaos.undo import UndoLog
from aideon_resilience.core.evidence.journal import JournalSummary, read_journal
from aideon_resilience.errors import AideonError
from aideon_resilience.settings import settings


@dataclass
class ExperimentRun:
    name: str
    journal: Path
    returncode: int
    timed_out: bool
    summary: JournalSummary | None
    problem: str = ""


def chaos_command(experiment: Path, journal: Path, log: Path) -> list[str]:
    chaos = Path(sys.executable).with_name("chaos")
    return [
        str(chaos), "--log-file", str(log), "run", "--rollback-strategy", "always",
        "--journal-path", str(journal), str(experiment),
    ]


def _interrupt(proc: subprocess.Popen[str], grace: float = 60) -> None:
    """SIGINT (its rollbacks and the undo log replay run), then SIGKILL after `grace`; a second
    interrupt of the gate meanwhile kills it at once."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
    except BaseException:
        proc.kill()
        raise


def run_experiment(
    experiment: Path,
    journals: Path,
    env: dict[str, str],
    timeout: float,
    on_line: Callable[[str], None] | None = None,
    undo_dir: Path | None = None,
) -> ExperimentRun:
    name = experiment.stem
    journal = journals / f"{name}.json"
    log = journals / f"{name}.log"
    # if the gate is killed outright, `rollback RUN_DIR` interrupts the run (its rollbacks run) first
    process_undo = ProcessUndo.record(UndoLog(undo_dir), f"chaos-{name}", f"interrupt the chaos run {name}") \
        if undo_dir is not None else None
    proc = subprocess.Popen(
        chaos_command(experiment, journal, log),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=settings().child_environment(env),
        start_new_session=True, text=True,
    )
    if process_undo is not None:
        process_undo.started(proc.pid)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    timed_out = False
    os.set_blocking(proc.stdout.fileno(), False)
    try:
        while proc.poll() is None:
            line = proc.stdout.readline()
            if line and on_line is not None:
                on_line(line.rstrip())
            if not line:
                time.sleep(0.2)
            if time.monotonic() > deadline and not timed_out:
                timed_out = True
                _interrupt(proc)
    except BaseException:  # the gate is interrupted: so is the experiment, and its rollbacks run
        _interrupt(proc)
        raise
    finally:
        if process_undo is not None and proc.poll() is not None:
            process_undo.done()
    for line in proc.stdout.read().splitlines():
        if on_line is not None:
            on_line(line)
    summary: JournalSummary | None = None
    problem = ""
    if journal.is_file():
        try:
            summary = read_journal(journal)
        except AideonError as exc:
            problem = str(exc)
    else:
        problem = f"{name}: chaos run wrote no journal (exit code {proc.returncode})"
    if timed_out:
        problem = f"{name}: interrupted after the experiment timeout of {timeout:.0f}s"
    return ExperimentRun(name, journal, int(proc.returncode or 0), timed_out, summary, problem)
