"""The self-contained HTML report: a jinja2 template, charts embedded as PNG data URIs, no script."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from jinja2 import Environment, PackageLoader, select_autoescape

from aideon_resilience.core.evaluate.verdict import Verdict
from aideon_resilience.core.evidence.timeline import Timeline
from aideon_resilience.core.report.chart_canvas import Chart
from aideon_resilience.core.report.rundir import RunMeta

_ENV = Environment(
    loader=PackageLoader("aideon_resilience.core.report", "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _duration(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def render_html(
    verdict: Verdict,
    meta: RunMeta,
    charts: Sequence[Chart],
    timeline: Timeline | None,
    raw_files: Sequence[str],
    data_end: float,
) -> str:
    t0 = meta.started
    experiments = [
        {
            "name": e.title or e.experiment,
            "start": f"t+{e.start - t0:.0f}s",
            "end": f"t+{e.end - t0:.0f}s",
            "status": e.status,
            "deviated": e.deviated,
        }
        for e in (timeline.experiments if timeline else [])
    ]
    return _ENV.get_template("index.html.j2").render(
        verdict=verdict,
        meta=meta,
        counts=verdict.counts(),
        charts=charts,
        experiments=experiments,
        raw_files=raw_files,
        started=datetime.fromtimestamp(t0, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        duration=_duration((meta.ended or data_end) - t0),
    )


