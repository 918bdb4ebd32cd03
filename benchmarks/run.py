"""Run every benchmark script of this directory (bench_*.py) in turn; print one JSON line each.

    .venv/bin/python benchmarks/run.py [NAME_FRAGMENT ...] [--out FILE]

Each script is bounded (at most about two minutes) and uses loopback only. Figures go into
benchmarks/README.md by hand, with the date and the command; the worker capacity the plan reads
(src/aideon_resilience/core/plan/capacity.json) is refreshed with --update-capacity.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CAPACITY = HERE.parent / "src" / "aideon_resilience" / "core" / "plan" / "capacity.json"
TIMEOUT_S = 420


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="run only scripts whose name contains one of these")
    parser.add_argument("--out", type=Path, help="also append the JSON lines to this file")
    parser.add_argument("--update-capacity", action="store_true", help="write measured figures to capacity.json")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(o in s.name for o in args.only)]
    results: dict[str, dict[str, object]] = {}
    failed = 0
    for script in scripts:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=TIMEOUT_S,
                              cwd=HERE, check=False)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            failed += 1
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            print(json.dumps({"benchmark": script.stem, "error": tail}), flush=True)
            continue
        data = json.loads(lines[-1])
        data["seconds"] = round(time.monotonic() - started, 1)
        results[str(data.get("benchmark", script.stem))] = data
        print(json.dumps(data), flush=True)
        if args.out:
            with args.out.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"date": time.strftime("%Y-%m-%d"), **data}) + "\n")
    if args.update_capacity:
        update_capacity(results)
    return 1 if failed else 0


def update_capacity(results: dict[str, dict[str, object]]) -> None:
    cap = json.loads(CAPACITY.read_text(encoding="utf-8"))
    worker = cap["worker"]
    upw = results.get("users_per_worker", {})
    mem = results.get("memory_per_user", {})
    if upw.get("users_at_80pct_cpu"):
        worker["users_per_worker"] = int(str(upw["users_at_80pct_cpu"]))
        worker["rps_per_worker"] = int(str(upw["rps_at_80pct_cpu"]))
    master = results.get("locust_master", {})
    if master.get("max_workers_measured"):
        worker["max_workers_per_master"] = int(str(master["max_workers_measured"]))
    if mem.get("gateway_py_kib_per_user"):
        worker["memory_per_user_kib"] = float(str(mem["gateway_py_kib_per_user"]))
    cap["measured"] = time.strftime("%Y-%m-%d")
    CAPACITY.write_text(json.dumps(cap, indent=2) + "\n", encoding="utf-8")
    print(f"updated {CAPACITY}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
