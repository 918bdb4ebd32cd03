"""SIGTERM (a CI runner's cancel) interrupts a command like SIGINT: its `finally` blocks run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

SCRIPT = """
import sys, time
from aideon_resilience.cli.main import Terminated, handle_sigterm
handle_sigterm()
print("ready", flush=True)
try:
    time.sleep(30)
except Terminated:
    print("cleanup ran", flush=True)
    sys.exit(143)
"""


def test_sigterm_raises_into_the_command_so_cleanup_runs() -> None:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert "cleanup ran" in out and proc.returncode == 143
    assert time.monotonic() - start < 2
