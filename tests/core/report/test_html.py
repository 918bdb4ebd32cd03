from __future__ import annotations

import base64
import re
from pathlib import Path

from aideon_resilience.core.evaluate.verdict import Verdict

CHARTS = ("load", "latency", "errors", "replicas", "pdbs", "nodes")


def _html(run_dir: Path) -> str:
    return (run_dir / "index.html").read_text(encoding="utf-8")


def test_self_contained_every_chart_a_png_data_uri(healthy_run: tuple[Path, Verdict]) -> None:
    html = _html(healthy_run[0])
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "<script" not in html.lower()
    assert "@import" not in html and "url(" not in html
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert len(imgs) == len(CHARTS)
    for tag in imgs:
        m = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', tag)
        assert m, tag[:80]
        assert base64.b64decode(m.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    for key in CHARTS:
        assert f'id="chart-{key}"' in html


def test_html_shows_verdict_slos_and_experiments(mixed_run: tuple[Path, Verdict]) -> None:
    run_dir, verdict = mixed_run
    html = _html(run_dir)
    assert '<span class="badge fail">fail</span>' in html
    for r in verdict.slos:
        assert f"<code>{r.id}</code>" in html
    for exp in ("pod-kill", "node-drain", "load-surge", "gateway-outlier"):
        assert f"<td>{exp}</td>" in html
    assert "no client window recorded" not in html  # drawn into the PNG, not the page
    assert "locust-windows.jsonl" not in html  # the mixed run has no windows file


def test_charts_render_without_any_data() -> None:
    from aideon_resilience.core.evaluate import RunData
    from aideon_resilience.core.report.charts import render_charts

    charts = render_charts(RunData(windows=None, timeline=None, t0=0.0))
    assert [c.key for c in charts] == list(CHARTS)
    assert all(c.data_uri.startswith("data:image/png;base64,") and c.width > 0 for c in charts)
