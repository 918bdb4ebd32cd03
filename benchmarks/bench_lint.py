"""Lint speed (issue 17): start-up of `--help` and of a one-file lint, and the four overlays in one call,
against `kubectl kustomize` of the same overlays (what any lint of them has to do first).

    .venv/bin/python benchmarks/bench_lint.py [--rounds N]

Commands run as fresh processes in alternating rounds (so the load of a shared machine hits them
alike); wall time is the median over the rounds, CPU time (user + system of the process and its
children, from wait4) the median too. Goals: --help and a one-file lint at most 0.3 s, the four
overlays in one call at most 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "aideon-resilience")
ENVIRONMENTS = [str(ROOT / "manifests" / "environments" / e) for e in ("development", "staging", "production", "local")]
ONE_FILE = str(ROOT / "tests" / "core" / "lint" / "fixtures" / "clean.yaml")


def kubectl() -> str:
    built = Path(os.environ.get("AIDEON_CACHE_DIR", Path.home() / ".cache" / "aideon-resilience")) / "bin" / "kubectl"
    return str(built) if built.is_file() else (shutil.which("kubectl") or "kubectl")


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (process and children) of one command."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{cmd} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    k = kubectl()
    cases: dict[str, list[list[str]]] = {
        "python_bare": [[sys.executable, "-c", "pass"]],
        "help": [[CLI, "--help"]],
        "lint_one_file": [[CLI, "lint", ONE_FILE, "--nodes", "4"]],
        "kustomize_4_overlays": [[k, "kustomize", e] for e in ENVIRONMENTS],
        "lint_4_overlays_one_call": [[CLI, "lint", *ENVIRONMENTS]],
        "lint_4_overlays_separate_calls": [[CLI, "lint", e] for e in ENVIRONMENTS],
        "lint_4_overlays_sarif": [[CLI, "lint", *ENVIRONMENTS, "--format", "sarif"]],
    }
    for commands in cases.values():  # warm the page cache and Python's bytecode cache
        for cmd in commands:
            run(cmd)
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, commands in cases.items():
            results = [run(cmd) for cmd in commands]
            wall[name].append(sum(w for w, _ in results))
            cpu[name].append(sum(c for _, c in results))
    med = {name: round(statistics.median(v), 3) for name, v in wall.items()}
    med_cpu = {name: round(statistics.median(v), 3) for name, v in cpu.items()}
    base = med["kustomize_4_overlays"]
    print(json.dumps({
        "benchmark": "lint",
        "rounds": args.rounds,
        "wall_s": med,
        "cpu_s": med_cpu,
        "ratio_one_call_vs_kustomize": round(med["lint_4_overlays_one_call"] / base, 2),
        "ratio_separate_vs_kustomize": round(med["lint_4_overlays_separate_calls"] / base, 2),
        "ratio_sarif_vs_kustomize": round(med["lint_4_overlays_sarif"] / base, 2),
        "goals": {"help_s": 0.3, "lint_one_file_s": 0.3, "lint_4_overlays_one_call_s": 3.0},
        "within_goals": med["help"] <= 0.3 and med["lint_one_file"] <= 0.3 and med["lint_4_overlays_one_call"] <= 3.0,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
