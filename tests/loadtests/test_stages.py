"""The shapes' stages come from gate.yaml (handed over by the gate, or read by AIDEON_ENV), nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from aideon_resilience.adapters.locust import stages as st
from aideon_resilience.core.config.gate import load_gate_config, shape_environment
from aideon_resilience.core.config.loadshape import ramp_seconds, ramp_stages, stage_at, surge_stages
from aideon_resilience.settings import Settings

from .conftest import REPO

MANIFESTS = REPO / "manifests"


def test_ramp_climbs_at_the_spawn_rate_and_holds_between_stages() -> None:
    stages = ramp_stages(1000, 10, 30, total_s=400)
    assert [s.users for s in stages] == [100, 250, 500, 750, 1000]
    # 100 users at 10/s, hold 30 s; 150 more at 10/s, hold 30 s; ...
    assert [s.end_s for s in stages] == [40, 85, 140, 195, 400]
    assert ramp_seconds(1000, 10, 30) == 100 + 4 * 30
    assert stage_at(stages, 0) == (100, 10)
    assert stage_at(stages, 399.9) == (1000, 10)
    assert stage_at(stages, 400) is None


def test_ramp_without_total_holds_the_target_once() -> None:
    stages = ramp_stages(100, 50, 5, fractions=(0.5, 1.0))
    assert [(s.end_s, s.users) for s in stages] == [(6, 50), (12, 100)]


@pytest.mark.parametrize("env", ["local", "development", "staging", "production"])
def test_without_figures_the_shape_runs_the_environments_gate_yaml(env: str) -> None:
    load = load_gate_config(MANIFESTS / "environments" / env).load
    stages = st.ramp_from_env(Settings({"AIDEON_ENV": env}), MANIFESTS)
    assert stages[-1].users == load.users
    assert {s.spawn_rate for s in stages} == {load.spawn_rate}


def test_handed_figures_win_and_nothing_else_sets_the_target(tmp_path: Path) -> None:
    env = Settings({"AIDEON_ENV": "production", "AIDEON_TARGET_USERS": "50", "AIDEON_SPAWN_RATE": "5",
                    "AIDEON_RAMP_HOLD_SECONDS": "2", "AIDEON_SHAPE_SECONDS": "60"})
    stages = st.ramp_from_env(env, tmp_path)  # no gate.yaml there: the handed figures are enough
    assert stages[-1].users == 50 and stages[-1].end_s == 60


def test_the_gates_figures_round_trip_through_the_variables() -> None:
    load = load_gate_config(MANIFESTS / "environments" / "production").load
    env = Settings(shape_environment(load, 3780))
    stages = st.ramp_from_env(env, Path("/nonexistent"))
    assert stages == ramp_stages(load.users, load.spawn_rate, load.ramp.hold_seconds, 3780,
                                 tuple(load.ramp.stages))


@pytest.mark.parametrize(("variables", "message"), [
    ({"AIDEON_ENV": "moon"}, "AIDEON_ENV='moon'"),
    ({"AIDEON_TARGET_USERS": "lots", "AIDEON_SPAWN_RATE": "1"}, "AIDEON_TARGET_USERS"),
    ({"AIDEON_TARGET_USERS": "10"}, "AIDEON_SPAWN_RATE"),
    ({"AIDEON_TARGET_USERS": "10", "AIDEON_SPAWN_RATE": "1", "AIDEON_RAMP_STAGES": "half"}, "AIDEON_RAMP_STAGES"),
])
def test_bad_figures_are_one_line_errors(variables: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        st.ramp_from_env(Settings(variables), MANIFESTS)


def test_surge_goes_up_and_back_down_then_stops() -> None:
    stages = surge_stages(100, 1000, (10, 20, 10))
    assert [(s.end_s, s.users) for s in stages] == [(10, 100), (30, 1000), (40, 100)]
    assert stages[1].spawn_rate == pytest.approx(900 / 2)  # peak reached within a tenth of the surge
    assert stage_at(stages, 15)[0] == 1000  # type: ignore[index]
    assert stage_at(stages, 40) is None
    with pytest.raises(ValueError):
        surge_stages(100, 10, (1, 1, 1))


def test_surge_from_the_handed_figures() -> None:
    env = {"AIDEON_TARGET_USERS": "300", "AIDEON_SPAWN_RATE": "10", "AIDEON_SURGE_PHASES": "5,10,5"}
    stages = st.surge_from_env(Settings(env), MANIFESTS)
    assert [s.users for s in stages] == [30, 300, 30] and stages[-1].end_s == 20
    assert stages[0].spawn_rate == 10
    with pytest.raises(ValueError, match="AIDEON_SURGE_PHASES"):
        st.surge_from_env(Settings({**env, "AIDEON_SURGE_PHASES": "5,10"}), MANIFESTS)
