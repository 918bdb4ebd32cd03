"""Entry point of the `aideon-resilience` command.

Each subcommand lives in its own module with a `register(app)` function; errors from the
harness become one line on stderr and the exit code their class carries.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from types import FrameType

import typer
from rich.console import Console

from aideon_resilience.cli import cluster, dataplane, deploy, gate, lint, plan, rehearse, report, rollback, standin
from aideon_resilience.errors import AideonError

app = typer.Typer(
    name="aideon-resilience",
    help="Load and resilience harness for the Aideon AI Lite platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (cluster, dataplane, deploy, gate, rehearse, lint, report, rollback, plan, standin):
    _module.register(app)

_err = Console(stderr=True, highlight=False, soft_wrap=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM (what a CI runner sends on cancel), raised like an interrupt so that every
    `finally` runs: the gate stops its load, the sampler and the target it started."""


_sigterm = threading.Event()  # set by the handler: typer reports any interrupt as exit code 130
TERMINATED = "aideon-resilience: terminated (SIGTERM); what the command started was stopped"
INTERRUPTED = "aideon-resilience: interrupted"


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _sigterm.set()
    raise Terminated("SIGTERM received")


def handle_sigterm() -> None:
    """SIGTERM interrupts the command the way SIGINT does (the process's own CLI run only)."""
    signal.signal(signal.SIGTERM, _on_sigterm)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns (and exits with) the process exit code."""
    _sigterm.clear()
    if argv is None:
        handle_sigterm()
    try:
        result = app(args=argv, standalone_mode=False)
    except AideonError as exc:
        _err.print(f"aideon-resilience: {exc}", markup=False)
        code = exc.exit_code
    except typer.Exit as exc:
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        code = 130
    except typer.TyperException as exc:  # usage errors of typer's (vendored) click parser
        fmt = getattr(exc, "format_message", None)
        _err.print(f"aideon-resilience: {fmt() if callable(fmt) else exc}", markup=False)
        code = 2
    else:  # with standalone_mode=False click returns the code of typer.Exit instead of raising
        code = result if isinstance(result, int) else 0
    if code == 130:  # an interrupt; typer turns one raised inside a command into exit code 130
        code = 143 if _sigterm.is_set() else 130
        with contextlib.suppress(OSError):  # whoever read our output may be gone already
            _err.print(TERMINATED if code == 143 else INTERRUPTED, markup=False)
    if argv is None:
        sys.exit(code)
    return code
