"""`aideon-resilience rollback [RUN_DIR]`: replay the undo steps chaos runs left pending."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aideon_resilience.errors import InfrastructureError, InputFileError, UsageError


def rollback(
    run_dir: Annotated[
        Path | None,
        typer.Argument(
        help=(
            "Directory holding undo steps (searched recursively): a run's undo log or a gate run "
            "directory. Default: $AIDEON_UNDO_DIR, else $AIDEON_STATE_DIR/undo, else "
            "~/.local/state/aideon-resilience/undo."
        ),
        show_default=False,
        ),
    ] = None,
) -> None:
    """Undo what chaos runs changed and did not restore (cordoned nodes, lost nodes, failing
    backends, Locust runs), newest first. Exit 0 when nothing is left pending."""
    from aideon_resilience.chaos import rollback, undo  # the chaos extension: only when a rollback runs

    root = run_dir if run_dir is not None else undo.default_root()
    if run_dir is not None and not run_dir.exists():
        raise InputFileError(run_dir, "no such directory")
    if run_dir is not None and not run_dir.is_dir():
        raise InputFileError(run_dir, "not a directory (give a run directory or an undo log)")
    steps = undo.pending_steps(root)
    if not steps:
        typer.echo(f"nothing to roll back under {root}")
        return
    result = rollback.replay(root, steps)  # an unreadable step is skipped: the others are replayed
    for line in result.undone:
        typer.echo(f"undone: {line}")
    for line in result.failed:
        typer.echo(f"FAILED: {line}", err=True)
    if result.failed:
        raise InfrastructureError(
            f"{len(result.failed)} of {len(steps)} undo steps under {root} failed; they stay pending"
        )
    if result.unreadable:
        others = f"; {len(result.unreadable) - 1} more unreadable" if len(result.unreadable) > 1 else ""
        raise UsageError(f"{result.unreadable[0]} (unreadable undo step, left pending; "
                         f"{len(result.undone)} other step(s) rolled back{others})")
    typer.echo(f"rolled back {len(result.undone)} step(s) under {root}")


def register(app: typer.Typer) -> None:
    app.command("rollback")(rollback)
