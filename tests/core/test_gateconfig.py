"""gate.yaml's load: `auto` workers from the plan, and loads that cannot work refused naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aideon_resilience.core.config.gate import load_gate_config
from aideon_resilience.core.plan.capacity import WorkerCapacity, load_capacity, workers_needed
from aideon_resilience.errors import InputFileError

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = REPO / "manifests" / "environments"
CAPACITY = WorkerCapacity(users_per_worker=1000, rps_per_worker=100, memory_per_user_kib=20,
                          worker_base_memory_mib=64, max_workers_per_master=50)


def _gate(tmp_path: Path, load: dict[str, object], max_seconds: float = 600) -> Path:
    file = tmp_path / "gate.yaml"
    file.write_text(yaml.safe_dump({"experiments": ["pod-kill"], "max_seconds": max_seconds, "load": load}))
    return file


@pytest.mark.parametrize("env", ["local", "development", "staging", "production"])
def test_every_environment_passes_its_own_checks(env: str) -> None:
    config = load_gate_config(ENVIRONMENTS / env)
    cap = load_capacity()
    assert max(1, config.load.worker_count) * cap.users_per_worker >= config.load.users
    assert config.load.reach_seconds() <= config.max_seconds


def test_production_drives_a_million_users_with_the_plans_workers() -> None:
    config = load_gate_config(ENVIRONMENTS / "production")
    assert config.load.users == 1_000_000
    assert config.load.worker_count == workers_needed(1_000_000, load_capacity()) == 77
    assert config.load.reach_seconds() <= config.max_seconds


def test_local_runs_a_master_and_two_workers() -> None:
    assert load_gate_config(ENVIRONMENTS / "local").load.worker_count == 2


def test_auto_is_the_plans_worker_count(tmp_path: Path) -> None:
    file = _gate(tmp_path, {"users": 4500, "spawn_rate": 100, "workers": "auto"})
    assert load_gate_config(file, CAPACITY).load.worker_count == 5
    small = _gate(tmp_path, {"users": 10, "spawn_rate": 10, "workers": "auto"})
    assert load_gate_config(small, CAPACITY).load.worker_count == 1


def test_the_ramp_check_counts_climbs_and_holds(tmp_path: Path) -> None:
    fits = _gate(tmp_path, {"users": 4000, "spawn_rate": 10, "workers": "auto", "ramp": {"hold_seconds": 50}})
    assert load_gate_config(fits, CAPACITY).load.reach_seconds() == 600  # 400 s + 4 x 50 s: exactly the bound
    late = _gate(tmp_path, {"users": 4000, "spawn_rate": 10, "workers": "auto", "ramp": {"hold_seconds": 51}})
    with pytest.raises(InputFileError, match=r"gate\.yaml: load\.spawn_rate: 10 users/s and 4 holds of 51s reach "
                       r"4,000 users after 604s, more than max_seconds 600 \(needs at least 10 users/s\)"):
        load_gate_config(late, CAPACITY)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("spawn_rate", 100, r"load\.spawn_rate: 100 users/s .* reach 1,000,000 users after 10,480s"),
    ("workers", 0, r"load\.workers: one Locust process carries 13,000 users .* the plan needs 77"),
])
def test_production_with_its_old_figures_is_refused(tmp_path: Path, field: str, value: int, message: str) -> None:
    data = yaml.safe_load((ENVIRONMENTS / "production" / "gate.yaml").read_text())
    data["load"][field] = value
    file = tmp_path / "gate.yaml"
    file.write_text(yaml.safe_dump(data))
    with pytest.raises(InputFileError, match=message):
        load_gate_config(file)


def test_a_steady_load_must_reach_its_users_too(tmp_path: Path) -> None:
    file = _gate(tmp_path, {"shape": "none", "users": 900, "spawn_rate": 1, "workers": 1})
    with pytest.raises(InputFileError, match=r"load\.spawn_rate: 1 users/s reach 900 users after 900s"):
        load_gate_config(file, CAPACITY)


def test_workers_that_cannot_carry_the_users_are_refused(tmp_path: Path) -> None:
    file = _gate(tmp_path, {"users": 4500, "spawn_rate": 100, "workers": 4})
    with pytest.raises(InputFileError, match=r"gate\.yaml: load\.workers: 4 workers carry 4,000 users by the "
                       r"measured capacity .* fewer than users 4,500; the plan needs 5"):
        load_gate_config(file, CAPACITY)
    one = _gate(tmp_path, {"users": 1500, "spawn_rate": 100, "workers": 0})
    with pytest.raises(InputFileError, match=r"load\.workers: one Locust process carries 1,000 users"):
        load_gate_config(one, CAPACITY)


def test_more_workers_than_one_master_drives_are_refused(tmp_path: Path) -> None:
    file = _gate(tmp_path, {"users": 100, "spawn_rate": 100, "workers": 51})
    with pytest.raises(InputFileError, match=r"load\.workers: 51 workers, one Locust master drives at most 50"):
        load_gate_config(file, CAPACITY)


@pytest.mark.parametrize(("surge", "field", "message"), [
    ({"warm_seconds": 5, "surge_seconds": 10, "cool_seconds": 10}, "load.spawn_rate", "base of 100 users in 10s"),
    ({"warm_seconds": 300, "surge_seconds": 300, "cool_seconds": 300}, "load.surge", "lasts 900s"),
])
def test_a_surge_that_does_not_fit_is_refused(tmp_path: Path, surge: dict[str, float], field: str,
                                              message: str) -> None:
    file = _gate(tmp_path, {"shape": "surge", "users": 1000, "spawn_rate": 10, "workers": 1, "surge": surge})
    with pytest.raises(InputFileError, match=rf"{field}: .*{message}"):
        load_gate_config(file, CAPACITY)


@pytest.mark.parametrize(("load", "field"), [
    ({"workers": -1}, "load.workers"),
    ({"workers": "many"}, "load.workers"),
    ({"max_worker_loss": 1}, "load.max_worker_loss"),
    ({"ramp": {"stages": [0.5, 0.4, 1]}}, "load.ramp.stages"),
    ({"ramp": {"stages": [0.5, 0.9]}}, "load.ramp.stages"),
])
def test_malformed_load_fields_name_the_field(tmp_path: Path, load: dict[str, object], field: str) -> None:
    with pytest.raises(InputFileError, match=rf"gate\.yaml: {field}"):
        load_gate_config(_gate(tmp_path, {"users": 10, **load}), CAPACITY)
