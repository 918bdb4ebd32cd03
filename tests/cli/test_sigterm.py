"""SIGTERM (a CI runner's cancel) interrupts a command like SIGINT: its `finally` blocks run."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from aideon_resilience.cli.main import main

SCRIPT = """
import sys, time
from aideon_resilience.cli.main import Terminated, handle_sigterm
handle_sigterm()
try:
    print("ready", flush=True)  # inside the try: the signal may land before the sleep starts
    time.sleep(30)
except Terminated:
    print("cleanup ran", flush=True)
    sys.exit(143)
"""


def test_sigterm_raises_into_the_command_so_cleanup_runs() -> None:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)  # well before the 30 s sleep would have ended by itself
    assert "cleanup ran" in out and proc.returncode == 143


@pytest.mark.parametrize(("signum", "code", "line"), [
    (signal.SIGTERM, 143, "aideon-resilience: terminated (SIGTERM); what the command started was stopped"),
    (signal.SIGINT, 130, "aideon-resilience: interrupted"),
])
def test_the_cli_exits_143_on_sigterm_and_130_on_sigint_inside_a_command(
    signum: signal.Signals, code: int, line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """typer turns any interrupt raised inside a command into exit code 130: SIGTERM must still be 143."""
    from aideon_resilience.chaos import undo
    from aideon_resilience.cli import main as cli_main

    def interrupted(_: Path) -> list[undo.Step]:
        if signum is signal.SIGTERM:
            cli_main._on_sigterm(signum, None)
        raise KeyboardInterrupt

    monkeypatch.setattr(undo, "pending_steps", interrupted)
    assert main(["rollback", str(tmp_path)]) == code
    assert capsys.readouterr().err.strip().splitlines()[-1] == line
