"""Report rendering for a one-hour run at one-second resolution (goal: at most 5 s).

    .venv/bin/python benchmarks/bench_report.py [--repeat N] [--keep DIR]

Builds a synthetic run directory shaped like a real gate run of one hour, sampled every second:
Locust windows of 1 s for `Aggregated` and 4 endpoints (18,000 lines); the timeline with every
one of 18 workloads and 18 PDBs sampled every second (129,600 lines), placement changes of
every workload over 6 nodes in 3 zones every 10 s, node samples, proxy ejections and the six
chaos experiments with their actions (node loss and zone outage take a ready replica from every
workload, so all 18 replicas panels and 18 PDB panels are drawn); the `local` SLO file. It then times
`render_run` (load + validate + evaluate + 6 charts + 4 reports), the median of N runs.

Baselines measured in the same process, on the same data (ratios are what to compare across
machines; the absolute figure is this machine's):
- `pandas_read_s`: `pandas.read_json(lines=True)` of the same two data files, i.e. only
  reading the raw data into data frames, with no validation, evaluation or drawing;
- `render_1min_s`: `render_run` of a one-minute run built the same way (fixed costs: imports
  warmed, six figures drawn, templates rendered).
Prints one JSON line (benchmarks/run.py collects it).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from aideon_resilience.core.report import render_run

ROOT = Path(__file__).resolve().parent.parent
SLO = ROOT / "manifests" / "environments" / "local" / "slo.yaml"
T0 = 1_800_000_000.0
NODES = {f"node-{i}": f"zone-{'abc'[i % 3]}" for i in range(6)}
TIERS = {
    "aideon-frontend": ["ui-service", "web-client"],
    "aideon-backend": ["api-gateway", "auth-service", "subscription-service", "analytics-service", "dr-tardis-service"],
    "aideon-knowledge": ["vector-db", "knowledge-integration-service", "llm-provider-service"],
    "aideon-security": ["security-layer-service", "encryption-service", "consent-manager-service",
                        "audit-logger-service", "compliance-reporter-service"],
    "aideon-infrastructure": ["monitoring-service", "logging-service", "backup-service"],
}
EXPERIMENTS = [("pod-kill", "kill-pods"), ("node-drain", "drain-nodes"), ("node-loss", "lose-node"),
               ("zone-outage", "lose-zone"), ("load-surge", "surge-users"), ("gateway-outlier", "fail-backend")]


def build_run(run_dir: Path, seconds: int) -> tuple[Path, Path]:
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps(
        {"run_id": run_dir.name, "env": "local", "context": "kwok-aideon", "started": T0, "ended": T0 + seconds,
         "tool_version": "bench", "target_users": 1000}))
    shutil.copy(SLO, run_dir / "slo.yaml")
    windows = run_dir / "locust-windows.jsonl"
    with windows.open("w") as fh:
        for s in range(seconds):
            wave = 0.5 + 0.5 * math.sin(s / 300)
            for ep in ("Aggregated", "GET /health", "POST /api/v1/auth/login", "POST /api/v1/chat/completions",
                       "GET /api/v1/knowledge/search"):
                req = 2000 if ep == "Aggregated" else 500
                fail = int(wave * 3)
                fh.write(json.dumps({"start": T0 + s, "end": T0 + s + 1, "endpoint": ep, "users": int(800 + 200 * wave),
                                     "requests": req, "failures": fail, "rps": float(req), "error_ratio": fail / req,
                                     "p50_ms": 20 + 10 * wave, "p95_ms": 80 + 40 * wave, "p99_ms": 150 + 90 * wave})
                         + "\n")
    span = seconds / len(EXPERIMENTS)
    timeline = run_dir / "timeline.jsonl"
    with timeline.open("w") as fh:
        def w(kind: str, t: float, **f: Any) -> None:
            fh.write(json.dumps({"kind": kind, "t": T0 + t, **f}) + "\n")

        for name, zone in NODES.items():
            w("node", 0, name=name, zone=zone, ready=True, unschedulable=False)
        for i, (exp, action) in enumerate(EXPERIMENTS):
            start, end = i * span + 0.1 * span, i * span + 0.9 * span
            w("chaos", start + 0.3 * span, experiment=exp, activity=action, type="action",
              start=T0 + start + 0.05 * span, end=T0 + start + 0.3 * span, status="succeeded")
            w("experiment", end, experiment=exp, start=T0 + start, end=T0 + end, status="completed", deviated=False)
            if exp == "gateway-outlier":
                w("ejection", start + 0.06 * span, service="api-gateway", backend="10.0.0.7:8080", state="down")
        node_names = list(NODES)
        # node loss and zone outage: every workload loses a ready replica for a while, so every
        # replicas and PDB panel changes and is drawn (the worst case for the charts)
        outage = [(i * span + 0.15 * span, i * span + 0.4 * span) for i in (2, 3)]
        for s in range(seconds):
            wave = 0.5 + 0.5 * math.sin(s / 300)
            lost = 1 if any(a <= s < b for a, b in outage) else 0
            for k, (ns, services) in enumerate(TIERS.items()):
                for j, svc in enumerate(services):
                    reps = 3 + round(2 * wave) if svc == "api-gateway" else 2
                    w("workload", s, namespace=ns, name=svc, workload_kind="Deployment", replicas=reps,
                      ready=reps - lost,
                      hpa_min=3 if svc == "api-gateway" else 1, hpa_max=5 if svc == "api-gateway" else 3,
                      hpa_current=reps, hpa_desired=reps)
                    w("pdb", s, namespace=ns, name=svc, current_healthy=reps - lost, desired_healthy=reps - 1,
                      disruptions_allowed=1, expected_pods=reps)
                    if s % 10 == 0:
                        for r in range(reps):
                            node = node_names[(r + j + k + s // 10) % len(node_names)]
                            w("placement", s, namespace=ns, workload=svc, node=node, zone=NODES[node], pods=1)
                        gone = node_names[(reps + j + k + s // 10) % len(node_names)]
                        w("placement", s, namespace=ns, workload=svc, node=gone, zone=NODES[gone], pods=0)
    return windows, timeline


def timed(fn: Any, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def stage_times(run_dir: Path, repeat: int) -> dict[str, float]:
    """Where the time goes: loading and validating, evaluating, drawing the charts."""
    from aideon_resilience.core.evaluate import evaluate
    from aideon_resilience.core.report.charts import render_charts
    from aideon_resilience.core.report.rundir import load_run

    run = load_run(run_dir)
    return {
        "load_validate": round(timed(lambda: load_run(run_dir), repeat), 3),
        "evaluate": round(timed(lambda: evaluate(run.slos, run.data()), repeat), 3),
        "charts": round(timed(lambda: render_charts(run.data()), repeat), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the runs under this directory and keep them")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="aideon-bench-report-"))
    try:
        hour_dir, minute_dir = base / "run-1h", base / "run-1min"
        for d in (hour_dir, minute_dir):
            shutil.rmtree(d, ignore_errors=True)
        windows, timeline = build_run(hour_dir, 3600)
        build_run(minute_dir, 60)
        render_run(minute_dir)  # warm imports, fonts and template caches
        lines = sum(1 for _ in windows.open()) + sum(1 for _ in timeline.open())
        hour = timed(lambda: render_run(hour_dir), args.repeat)
        minute = timed(lambda: render_run(minute_dir), args.repeat)
        pandas_read = timed(
            lambda: (pd.read_json(windows, lines=True), pd.read_json(timeline, lines=True)), args.repeat
        )
        verdict = json.loads((hour_dir / "verdict.json").read_text())["verdict"]
        stages = stage_times(hour_dir, args.repeat)
        print(json.dumps({
            "benchmark": "report_render",
            "data_lines": lines,
            "render_1h_s": round(hour, 3),
            "goal_s": 5.0,
            "within_goal": hour <= 5.0,
            "pandas_read_s": round(pandas_read, 3),
            "ratio_vs_pandas_read": round(hour / pandas_read, 2),
            "render_1min_s": round(minute, 3),
            "ratio_vs_1min_render": round(hour / minute, 2),
            "stages_1h_s": stages,
            "verdict_of_synthetic_run": verdict,
            "repeat": args.repeat,
        }))
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
