"""`aideon-resilience gate`: load + chaos suite + SLO verdict; the exit code is the verdict.

0 pass, 1 an SLO failed, 2 unusable input or refused by a safety guard (nothing was changed),
3 inconclusive (missing evidence or an infrastructure error).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from aideon_resilience.cli.report import print_verdict
from aideon_resilience.settings import settings

if TYPE_CHECKING:
    from aideon_resilience.core.evaluate.verdict import Verdict
    from aideon_resilience.gate import GateOptions, RunStatus

# The gate package imports the Kubernetes client, Locust's helpers and the report renderer
# (matplotlib), about 0.7 s: the functions below import it when a gate runs, not at start-up.

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
    from aideon_resilience.gate import GateOptions  # heavy: see the module note

    opts = GateOptions(
        env=env, context=context, manifests=manifests, out=out, baseline=baseline, chaos_dir=chaos_dir,
        locustfile=locustfile, gateway_url=settings().gateway_url, overlay=overlay,
        experiments=[e.strip() for e in experiments.split(",") if e.strip()] if experiments else None,
    )
    execute(opts)


def execute(opts: GateOptions) -> None:
    """Run a gate or a rehearsal with live progress (plain lines without a terminal or in CI),
    print the verdict and exit with its code."""
    from aideon_resilience.gate import RunStatus, run_gate  # heavy: see the module note

    status = RunStatus()
    if _err.is_terminal and not settings().in_ci:
        verdict = _run_live(opts, status)
    else:  # plain lines: a log, CI, a pipe
        verdict = run_gate(opts, lambda line: _plain(status, line), status)
    print_verdict(verdict, opts.out / verdict.run_id)
    raise typer.Exit(verdict.exit_code)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def status_text(status: RunStatus, last: str, now: float | None = None, label: str = "gate") -> str:
    """The live display: phase and experiment, elapsed and estimated time left, users and errors."""
    now = now if now is not None else time.monotonic()
    step = f"  experiment {status.index}/{status.total} {status.experiment}" if status.experiment else ""
    left = status.estimate_left_s(now)
    times = f"elapsed {_clock(status.elapsed_s(now))}" + (f"  left ~{_clock(left)}" if left is not None else "")
    from aideon_resilience.gate.status import latest_window  # heavy: see the module note

    window = latest_window(status.windows_file)
    load = (f"  users {window.users}  error ratio {window.error_ratio:.1%}  {window.rps:.0f} req/s"
            if window is not None else "")
    return f"{label}: {status.phase}{step}\n{times}{load}\n{last[:110]}"


def _plain(status: RunStatus, line: str) -> None:
    if line.strip():
        _err.print(f"[{_clock(status.elapsed_s())}] {line}", markup=False, highlight=False)


def _run_live(opts: GateOptions, status: RunStatus) -> Verdict:
    from rich.live import Live
    from rich.text import Text

    from aideon_resilience.gate import run_gate  # heavy: see the module note

    last = [""]
    with Live(console=_err, refresh_per_second=2, transient=True,
              get_renderable=lambda: Text(status_text(status, last[0],
                                                      label="rehearsal" if opts.rehearsal else "gate"))) as live:

        def progress(line: str) -> None:
            if line.strip():
                last[0] = line
                live.console.print(f"[dim]{_clock(status.elapsed_s())}[/dim] {line}", highlight=False)

        return run_gate(opts, progress, status)


def register(app: typer.Typer) -> None:
    app.command("gate")(gate)
