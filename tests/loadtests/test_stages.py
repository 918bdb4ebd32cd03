from __future__ import annotations

import pytest

from aideon_resilience.adapters.locust import stages as st


def test_ramp_climbs_in_five_bounded_stages() -> None:
    stages = st.ramp_stages(1_000_000, 3600)
    assert [s.users for s in stages] == [100_000, 250_000, 500_000, 750_000, 1_000_000]
    assert stages[-1].end_s == 3600
    # each stage reaches its users in the first half of the stage
    assert stages[0].spawn_rate == pytest.approx(100_000 / 360)
    assert st.stage_at(stages, 0) == (100_000, stages[0].spawn_rate)
    assert st.stage_at(stages, 3599.9) == (1_000_000, stages[-1].spawn_rate)
    assert st.stage_at(stages, 3600) is None


@pytest.mark.parametrize(("env", "target"), [("local", 200), ("production", 1_000_000), ("staging", 100_000)])
def test_ramp_target_chosen_by_environment(monkeypatch: pytest.MonkeyPatch, env: str, target: int) -> None:
    monkeypatch.setenv("AIDEON_ENV", env)
    monkeypatch.delenv("AIDEON_TARGET_USERS", raising=False)
    monkeypatch.delenv("AIDEON_RAMP_SECONDS", raising=False)
    stages = st.ramp_from_env()
    assert stages[-1].users == target
    assert stages[-1].end_s == st.RAMP_SECONDS[env]


def test_ramp_overrides_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIDEON_ENV", "local")
    monkeypatch.setenv("AIDEON_TARGET_USERS", "50")
    monkeypatch.setenv("AIDEON_RAMP_SECONDS", "10")
    assert st.ramp_from_env()[-1].users == 50
    monkeypatch.setenv("AIDEON_ENV", "moon")
    with pytest.raises(ValueError, match="AIDEON_ENV='moon'"):
        st.ramp_from_env()
    monkeypatch.setenv("AIDEON_ENV", "local")
    monkeypatch.setenv("AIDEON_TARGET_USERS", "lots")
    with pytest.raises(ValueError, match="AIDEON_TARGET_USERS"):
        st.ramp_from_env()


def test_surge_goes_up_and_back_down_then_stops() -> None:
    stages = st.surge_stages(100, 1000, (10, 20, 10))
    assert [(s.end_s, s.users) for s in stages] == [(10, 100), (30, 1000), (40, 100)]
    assert stages[1].spawn_rate == pytest.approx(900 / 2)  # peak reached within a tenth of the surge
    assert st.stage_at(stages, 15)[0] == 1000  # type: ignore[index]
    assert st.stage_at(stages, 40) is None
    with pytest.raises(ValueError):
        st.surge_stages(100, 10, (1, 1, 1))


def test_surge_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIDEON_ENV", "local")
    monkeypatch.setenv("AIDEON_SURGE_PEAK", "300")
    monkeypatch.delenv("AIDEON_SURGE_BASE", raising=False)
    monkeypatch.setenv("AIDEON_SURGE_SECONDS", "5,10,5")
    stages = st.surge_from_env()
    assert [s.users for s in stages] == [30, 300, 30] and stages[-1].end_s == 20
    monkeypatch.setenv("AIDEON_SURGE_SECONDS", "5,10")
    with pytest.raises(ValueError, match="AIDEON_SURGE_SECONDS"):
        st.surge_from_env()
