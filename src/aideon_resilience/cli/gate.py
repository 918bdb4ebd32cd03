"""`aideon-resilience gate`: load + chaos suite + SLO verdict; the exit code is the verdict.

0 pass, 1 an SLO failed, 2 unusable input or refused by a safety guard (nothing was changed),
3 inconclusive (missing evidence or an infrastructure error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from aideon_resilience.cli.report import print_verdict
from aideon_resilience.gate import GateOptions, run_gate
from aideon_resilience.settings import settings

_err = Console(stderr=True, highlight=False, soft_wrap=True)


def gate(
    env: Annotated[str, typer.Option("--env", help="Environment under MANIFESTS/environments")] = "local",
    context: Annotated[
        str | None, typer.Option("--context", help="Kube context (must be allow-listed; local: kwok-aideon)")
    ] = None,
    manifests: Annotated[Path, typer.Option("--manifests", help="Manifests directory")] = Path("manifests"),
    out: Annotated[Path, typer.Option("--out", help="Where run directories are written")] = Path("reports"),
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Earlier run directory to flag regressions against")
    ] = None,
    chaos_dir: Annotated[Path, typer.Option("--chaos-dir", help="Directory of the experiments")] = Path("chaos"),
    locustfile: Annotated[Path, typer.Option("--locustfile", help="Locustfile of the load")] = Path(
        "loadtests/gateway.py"
    ),
    overlay: Annotated[
        Path | None, typer.Option("--overlay", help="local only: deploy this overlay (e.g. manifests/variants/X)")
    ] = None,
    experiments: Annotated[
        str | None, typer.Option("--experiments", help="comma-separated subset of the suite to run")
    ] = None,
) -> None:
    """Run the pre-release resilience gate and write reports/<run-id>/."""
    opts = GateOptions(
        env=env, context=context, manifests=manifests, out=out, baseline=baseline, chaos_dir=chaos_dir,
        locustfile=locustfile, gateway_url=settings().gateway_url, overlay=overlay,
        experiments=[e.strip() for e in experiments.split(",") if e.strip()] if experiments else None,
    )
    with _err.status("gate", spinner="dots") as status:

        def progress(line: str) -> None:
            if line.strip():
                status.update(f"gate: {line[:100]}")
                _err.print(f"[dim]·[/dim] {line}", highlight=False)

        verdict = run_gate(opts, progress)
    print_verdict(verdict, out / verdict.run_id)
    raise typer.Exit(verdict.exit_code)


def register(app: typer.Typer) -> None:
    app.command("gate")(gate)
