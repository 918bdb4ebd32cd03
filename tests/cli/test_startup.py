"""Start-up stays light: the CLI and a lint import none of the heavy dependencies (the Kubernetes
client, matplotlib, pandas, the gate, the report renderer). Timings are in benchmarks/bench_lint.py;
this checks the cause of a slow start, not the clock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("kubernetes", "matplotlib", "pandas", "numpy", "locust", "aideon_resilience.gate",
         "aideon_resilience.core.report", "aideon_resilience.adapters.localcluster")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_importing_the_cli_loads_no_heavy_dependency() -> None:
    modules = loaded_after("import aideon_resilience.cli.main")
    assert "aideon_resilience.cli.lint" in modules  # the probe really imported the CLI
    assert heavy(modules) == []


def test_linting_a_file_loads_no_heavy_dependency() -> None:
    fixture = ROOT / "tests" / "core" / "lint" / "fixtures" / "clean.yaml"
    modules = loaded_after(
        "from aideon_resilience.cli.main import main\n"
        f"main(['lint', {str(fixture)!r}, '--nodes', '4'])"
    )
    assert "aideon_resilience.core.lint.registry" in modules
    assert heavy(modules) == []


def test_the_probe_sees_a_heavy_import() -> None:
    assert heavy(loaded_after("import aideon_resilience.core.report")) != []
