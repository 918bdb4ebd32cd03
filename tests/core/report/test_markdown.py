from __future__ import annotations

from pathlib import Path

from aideon_resilience.core.evaluate.verdict import Verdict


def test_markdown_has_verdict_and_table(mixed_run: tuple[Path, Verdict]) -> None:
    run_dir, verdict = mixed_run
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert md.startswith("## Resilience gate: ❌ FAIL (score ")
    assert "| SLO | Family | Status | Weight | Evidence |" in md
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert len(rows) == len(verdict.slos)
    row = next(r for r in rows if "`anti-affinity-gateway`" in r)
    assert "❌ fail" in row and "2 replicas on node n2 at t+500.0s" in row
    assert any("❔ inconclusive" in r for r in rows)
    assert "Regressions" not in md  # no baseline given


def test_markdown_escapes_pipes() -> None:
    from aideon_resilience.core.evaluate.verdict import SloResult, Status, build_verdict
    from aideon_resilience.core.report.markdown import render_markdown
    from aideon_resilience.core.report.rundir import RunMeta

    v = build_verdict([SloResult(id="a", family="client", status=Status.PASS, weight=1, message="x | y")])
    md = render_markdown(v, RunMeta(run_id="r", env="e", started=0))
    assert "x \\| y" in md
