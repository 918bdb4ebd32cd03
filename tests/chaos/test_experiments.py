"""Every experiment in chaos/ validates, is guarded by the safety control and rolls back."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((REPO / "chaos").glob("*.json"))
EXPECTED = {"pod-kill", "node-drain", "node-loss", "zone-outage", "gateway-outlier", "load-surge", "rolling-update",
            "stateful-node-loss", "canary-failure"}
CHAOS = str(Path(sys.executable).with_name("chaos"))

# mutating action -> the rollback that undoes it
UNDONE_BY = {
    "drain_nodes": "uncordon_nodes",
    "lose_nodes": "recover_nodes",
    "zone_outage": "recover_zone",
    "fail_backend": "recover_backend",
    "start_surge": "stop_load",
    "start_load": "stop_load",
    "rollout_restart": "undo_rollout",
    "fail_pod_backends": "recover_backend",
    "start_canary": "end_canary",
    "route_to_canary": "end_canary",
}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_the_nine_experiments_exist() -> None:
    assert {p.stem for p in EXPERIMENTS} == EXPECTED


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_chaos_validate_passes(path: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [CHAOS, "--log-file", str(tmp_path / "chaostoolkit.log"), "validate", str(path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "experiment syntax and semantic look valid" in proc.stdout + proc.stderr


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_is_guarded_configured_and_rolled_back(path: Path) -> None:
    exp = _load(path)
    controls = [c["provider"]["module"] for c in exp["controls"]]
    assert controls[0] == "aideon_resilience.chaos.controls.safety"
    assert "aideon_resilience.chaos.controls.load" in controls
    for key, value in exp["configuration"].items():
        assert value["type"] == "env" and value["key"].startswith("AIDEON_") and "default" in value, key
    readme = (REPO / "chaos" / "README.md").read_text()
    for value in exp["configuration"].values():
        assert value["key"] in readme, f"{value['key']} is not documented in chaos/README.md"
    assert path.name in readme
    probes = exp["steady-state-hypothesis"]["probes"]
    assert probes and all(p["tolerance"]["provider"]["func"] == "held" for p in probes)
    rollbacks = {r["provider"]["func"] for r in exp["rollbacks"]}
    for activity in exp["method"]:
        func = activity["provider"]["func"]
        if func in UNDONE_BY:
            assert UNDONE_BY[func] in rollbacks, f"{func} has no rollback"


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_python_activity_resolves_with_its_arguments(path: Path) -> None:
    exp = _load(path)
    activities = exp["steady-state-hypothesis"]["probes"] + exp["method"] + exp["rollbacks"]
    for activity in activities:
        provider = activity["provider"]
        func = getattr(importlib.import_module(provider["module"]), provider["func"])
        inspect.signature(func).bind(**provider.get("arguments", {}))
