"""Running `aideon-resilience` as a child process: the command line from the interpreter running
us, and one stand-in outside any pod (for the test suite and the benchmarks; the local data plane
runs the pods' stand-ins itself, `dataplane/standin_processes.py`)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aideon_resilience.errors import InfrastructureError
from aideon_resilience.settings import settings

_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")
STOP_TIMEOUT_S = 10.0


def harness_command() -> list[str]:
    """How to run `aideon-resilience` from the interpreter running us."""
    script = Path(sys.executable).parent / "aideon-resilience"
    if script.is_file():
        return [str(script)]
    found = shutil.which("aideon-resilience")
    if found:
        return [found]
    return [sys.executable, "-c", "from aideon_resilience.cli.main import main; main()"]


@dataclass(frozen=True)
class RunningStandin:
    url: str  # http://127.0.0.1:PORT
    port: int
    proc: subprocess.Popen[str]


@contextmanager
def running_standin(service: str = "api-gateway", *args: str,
                    attempt_log_port: int | None = None) -> Iterator[RunningStandin]:
    """`aideon-resilience standin SERVICE --port 0 ARGS...` on loopback, once it listens; stopped
    with SIGTERM (SIGKILL after 10 s) on the way out. With `attempt_log_port` it reports each
    proxied response there, as a pod's stand-in does (`attempt_report`)."""
    extra = {"AIDEON_ATTEMPT_LOG_PORT": str(attempt_log_port)} if attempt_log_port else {}
    proc = subprocess.Popen([*harness_command(), "standin", service, "--port", "0", *args],
                            stdout=subprocess.PIPE, text=True, env=settings().child_environment(extra))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = _LISTENING.search(line)
        if m is None:
            raise InfrastructureError(f"the {service} stand-in did not start: {line.strip()!r} (exit {proc.poll()})")
        yield RunningStandin(m.group(1), int(m.group(2)), proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
