"""Reports of a run: index.html, report.md, verdict.json, junit.xml.

`render_run(run_dir)` is what `aideon-resilience report RUN_DIR` and the gate call: it loads the
raw data (`core.rundir`), evaluates the SLOs, compares with a baseline run if given and writes
all four reports into the run directory.
"""

from __future__ import annotations

from pathlib import Path

from aideon_resilience.core.evaluate import evaluate
from aideon_resilience.core.evaluate.slo import AntiAffinitySlo, ClientSlo, HpaSlo, OutlierSlo, PdbSlo, RecoverySlo
from aideon_resilience.core.evaluate.verdict import Verdict, read_verdict, write_verdict
from aideon_resilience.core.report.baseline import compare
from aideon_resilience.core.report.charts import render_charts
from aideon_resilience.core.report.html import render_html
from aideon_resilience.core.report.junit import render_junit
from aideon_resilience.core.report.markdown import render_markdown
from aideon_resilience.core.report.rundir import (
    HTML_FILE,
    JUNIT_FILE,
    MARKDOWN_FILE,
    REPORT_FILES,
    VERDICT_FILE,
    Run,
    load_meta,
    load_run,
    run_notes,
)

__all__ = ["compare", "evaluate_run", "render_run", "write_reports"]


def evaluate_run(run: Run, baseline_run_dir: Path | None = None) -> Verdict:
    verdict = evaluate(run.slos, run.data(), run_id=run.meta.run_id)
    verdict.kind, verdict.notes = run.meta.kind, run_notes(run.meta)
    if baseline_run_dir is not None:
        verdict.baseline_run_id = load_meta(baseline_run_dir).run_id
        verdict.regressions = compare(verdict, baseline_run_dir)
    return verdict


def _error_limits(run: Run) -> list[tuple[str, float]]:
    limits: dict[str, float] = {}
    for slo in run.slos.slos:
        if isinstance(slo, ClientSlo):
            if slo.max_error_ratio is not None:
                limits[f"{slo.id}: run"] = slo.max_error_ratio
            if slo.max_chaos_window_error_ratio is not None:
                limits[f"{slo.id}: window during chaos"] = slo.max_chaos_window_error_ratio
        elif isinstance(slo, OutlierSlo):
            limits[f"{slo.id}: after failure"] = slo.max_error_ratio
    return list(limits.items())


def _focus(run: Run) -> tuple[list[str], list[str]]:
    """Workloads and PDBs the SLOs name: their panels are drawn even when steady."""
    workloads: list[str] = []
    pdbs: list[str] = []
    for slo in run.slos.slos:
        if isinstance(slo, HpaSlo | AntiAffinitySlo | RecoverySlo):
            workloads += slo.workloads
        elif isinstance(slo, PdbSlo) and slo.pdbs != ["*/*"]:
            pdbs += slo.pdbs
    return workloads, pdbs


def write_reports(run: Run, verdict: Verdict) -> None:
    """Write the four reports of an evaluated run into its directory."""
    data = run.data()
    charts = render_charts(data, _error_limits(run), *_focus(run))
    raw = sorted(
        str(p.relative_to(run.path))
        for p in run.path.rglob("*")
        if p.is_file() and p.name not in REPORT_FILES
    )
    html = render_html(verdict, run.meta, charts, run.timeline, raw, data.data_end())
    (run.path / HTML_FILE).write_text(html, encoding="utf-8")
    (run.path / MARKDOWN_FILE).write_text(render_markdown(verdict, run.meta), encoding="utf-8")
    write_verdict(run.path / VERDICT_FILE, verdict)
    (run.path / JUNIT_FILE).write_text(render_junit(verdict), encoding="utf-8")


def render_run(run_dir: Path, baseline_run_dir: Path | None = None, slo_path: Path | None = None) -> Verdict:
    """Load a run directory, evaluate it, write its reports; returns the verdict."""
    if baseline_run_dir is not None:
        # read the baseline first: a bad baseline is unusable input and must change nothing
        read_verdict(baseline_run_dir / VERDICT_FILE)
        load_meta(baseline_run_dir)
    run = load_run(run_dir, slo_path)
    verdict = evaluate_run(run, baseline_run_dir)
    write_reports(run, verdict)
    return verdict
