"""`report.md`: the verdict as a pull-request comment."""

from __future__ import annotations

from aideon_resilience.core.evaluate.verdict import Status, Verdict
from aideon_resilience.core.report.rundir import RunMeta

ICONS = {Status.PASS: "✅", Status.WARN: "⚠️", Status.FAIL: "❌", Status.INCONCLUSIVE: "❔"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(verdict: Verdict, meta: RunMeta) -> str:
    v = verdict.verdict
    counts = ", ".join(f"{n} {s}" for s, n in verdict.counts().items() if n)
    lines = [
        f"## Resilience {verdict.kind}: {ICONS[v]} {v.value.upper()} (score {verdict.score * 100:.0f}%)",
        "",
        f"Run `{meta.run_id}` on `{meta.env}`"
        + (f" (context `{meta.context}`)" if meta.context else "")
        + (f" at `{meta.git_revision}`" if meta.git_revision else "")
        + f" · {counts or 'no SLO'} · exit code {verdict.exit_code}",
        "",
        *[f"> **{n}**" if n.startswith("MODELLED") else f"> {n}" for n in verdict.notes],
        *([""] if verdict.notes else []),
        "| SLO | Family | Status | Weight | Evidence |",
        "|---|---|---|---:|---|",
    ]
    for r in verdict.slos:
        lines.append(
            f"| `{r.id}` | {r.family} | {ICONS[r.status]} {r.status.value} | {r.weight:g} | {_cell(r.message)} |"
        )
    lines.append("")
    if verdict.baseline_run_id is not None:
        lines.append(f"### Regressions against `{verdict.baseline_run_id}`")
        lines.append("")
        if verdict.regressions:
            lines += [f"- `{g.slo_id}`: {_cell(g.message)}" for g in verdict.regressions]
        else:
            lines.append("None.")
        lines.append("")
    lines.append("Charts and full evidence: `index.html` in the run directory.")
    return "\n".join(lines) + "\n"
