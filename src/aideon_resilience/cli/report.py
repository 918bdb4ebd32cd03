"""`aideon-resilience report RUN_DIR [--baseline RUN_DIR] [--slo FILE]`: re-render a run's reports.

Reads the raw data in RUN_DIR (run.json, slo.yaml, locust-windows.jsonl, timeline.jsonl),
evaluates the SLOs, rewrites index.html, report.md, verdict.json and junit.xml, prints the
verdict and exits with its code: 0 pass, 1 fail, 3 inconclusive; 2 on unusable input
(a missing or malformed run.json or SLO file, a malformed data line, a bad baseline).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from aideon_resilience.core.evaluate.verdict import Verdict


def report(
    run_dir: Annotated[Path, typer.Argument(help="Run directory (reports/<run-id>)")],
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Earlier run directory to flag regressions against")
    ] = None,
    slo: Annotated[
        Path | None, typer.Option("--slo", help="SLO file to judge by (default: RUN_DIR/slo.yaml)")
    ] = None,
) -> None:
    """Re-render a run's reports from its raw data; exit code is the verdict."""
    from aideon_resilience.core.report import render_run  # matplotlib (about 0.4 s): only when rendering

    verdict = render_run(run_dir, baseline_run_dir=baseline, slo_path=slo)
    print_verdict(verdict, run_dir)
    raise typer.Exit(verdict.exit_code)


def print_verdict(verdict: Verdict, run_dir: Path) -> None:
    """The verdict, one line per SLO and the regressions, as `report` and `gate` show them."""
    # Kubernetes client and the data plane: only when the command runs (fast --help)
    from aideon_resilience.core.report.rundir import HTML_FILE

    out = Console(highlight=False, soft_wrap=True)
    out.print(
        f"verdict {verdict.verdict.value} (score {verdict.score * 100:.0f}%, "
        + ", ".join(f"{n} {s}" for s, n in verdict.counts().items() if n)
        + f"): {run_dir / HTML_FILE}",
        markup=False,
    )
    for r in verdict.slos:
        out.print(f"  {r.status.value:<12} {r.id}: {r.message}", markup=False)
    if verdict.baseline_run_id is not None:
        out.print(f"  {len(verdict.regressions)} regression(s) against {verdict.baseline_run_id}", markup=False)
        for g in verdict.regressions:
            out.print(f"    {g.slo_id}: {g.message}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
