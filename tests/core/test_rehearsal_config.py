"""rehearsal.yaml: what a rehearsal runs, validated with one line naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from aideon_resilience.core.config.rehearsal import REHEARSAL_FILE, load_rehearsal_config
from aideon_resilience.errors import InputFileError

REPO = Path(__file__).resolve().parents[2]
GOOD = """
users: 1000
ramp_seconds: 60
hold_seconds: 30
surge_users: 1500
surge_seconds: 20
experiments: [pod-kill]
max_seconds: 600
experiment_env: {AIDEON_CHAOS_DRAIN_COUNT: "2"}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / REHEARSAL_FILE).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_shipped_rehearsals_load(env: str) -> None:
    cfg = load_rehearsal_config(REPO / "manifests" / "environments" / env)
    assert cfg.warmup_seconds < cfg.max_seconds
    assert set(cfg.experiments) <= {p.stem for p in (REPO / "chaos").glob("*.json")}


def test_production_rehearses_the_target_with_a_surge() -> None:
    cfg = load_rehearsal_config(REPO / "manifests" / "environments" / "production")
    assert cfg.users == 1_000_000 and (cfg.surge_users or 0) > cfg.users


def test_schedule_ramps_holds_surges_and_holds_the_peak(tmp_path: Path) -> None:
    cfg = load_rehearsal_config(write(tmp_path, GOOD))
    s = cfg.schedule()
    assert cfg.warmup_seconds == 110
    assert s.users_at(30) == 500 and s.users_at(70) == 1000 and s.users_at(95) == 1500 and s.users_at(110) == 1000


def test_users_override_scales_the_surge(tmp_path: Path) -> None:
    cfg = load_rehearsal_config(write(tmp_path, GOOD)).with_users(2000)
    assert (cfg.users, cfg.surge_users) == (2000, 3000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("users: 1000\n", "users: -5\n"), "rehearsal.yaml: users: Input should be greater than 0"),
        (GOOD.replace("surge_users: 1500", "surge_users: 500"), "(top level): surge_users must be at least users"),
        (GOOD.replace("max_seconds: 600", "max_seconds: 100"),
         "ramp, hold and surge take 110s: nothing left of max_seconds 100 for the suite"),
        (GOOD.replace("AIDEON_CHAOS_DRAIN_COUNT", "PATH"),
         "experiment_env: 'PATH' is not an experiment variable (AIDEON_CHAOS_* or AIDEON_SLO_*)"),
        (GOOD + "unknown: 1\n", "unknown: Extra inputs are not permitted"),
        ("- a list\n", "expected a mapping with users, ramp_seconds and experiments"),
        ("users: [\n", "invalid YAML"),
    ],
)
def test_bad_rehearsal_files_name_the_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(InputFileError) as exc:
        load_rehearsal_config(write(tmp_path, text))
    assert expected in str(exc.value) and str(tmp_path / REHEARSAL_FILE) in str(exc.value)


def test_a_missing_rehearsal_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no rehearsal configuration"):
        load_rehearsal_config(tmp_path)
