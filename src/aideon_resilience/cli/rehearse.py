"""`aideon-resilience rehearse --env E [--users N]`: the chaos suite at an environment's shape.

Brings up a local cluster of its own with E's declared shape (nodes, zones, allocatable), applies
E's overlay unchanged, drives a modelled load toward N users (no request is sent: the plan's
traffic model becomes CPU per pod, which the real HPAs act on) and runs E's rehearsal suite at
peak. Same evidence, reports and exit codes as the gate: 0 pass, 1 an SLO failed, 2 unusable
input or a refusal (nothing was changed), 3 inconclusive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aideon_resilience.cli.gate import execute


def rehearse(
    env: Annotated[str, typer.Option("--env", help="Environment under MANIFESTS/environments")] = "production",
    users: Annotated[
        int | None, typer.Option("--users", help="modelled users at peak (default: the environment's rehearsal.yaml)")
    ] = None,
    manifests: Annotated[Path, typer.Option("--manifests", help="Manifests directory")] = Path("manifests"),
    out: Annotated[Path, typer.Option("--out", help="Where run directories are written")] = Path("reports"),
    chaos_dir: Annotated[Path, typer.Option("--chaos-dir", help="Directory of the experiments")] = Path("chaos"),
    experiments: Annotated[
        str | None, typer.Option("--experiments", help="comma-separated subset of the rehearsal suite to run")
    ] = None,
    keep: Annotated[bool, typer.Option("--keep", help="keep the rehearsal cluster afterwards")] = False,
) -> None:
    """Rehearse the chaos suite on a local cluster of the environment's shape under modelled load."""
    from aideon_resilience.gate import GateOptions  # heavy: the gate package (see cli/gate.py)

    execute(GateOptions(
        env=env, manifests=manifests, out=out, chaos_dir=chaos_dir, rehearsal=True, users=users, keep=keep,
        experiments=[e.strip() for e in experiments.split(",") if e.strip()] if experiments else None,
    ))


def register(app: typer.Typer) -> None:
    app.command("rehearse")(rehearse)
