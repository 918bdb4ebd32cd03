"""Load stages toward a target user count: the staged ramp and the surge used by loadtests/shapes.py.

Pure functions (no Locust import) so they are tested and reused without a Locust process; the
environment variables are read by `ramp_from_env` / `surge_from_env` only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from aideon_resilience.settings import settings

TARGET_USERS: dict[str, int] = {"local": 200, "development": 1_000, "staging": 100_000, "production": 1_000_000}
RAMP_SECONDS: dict[str, int] = {"local": 120, "development": 300, "staging": 1_800, "production": 3_600}
STAGE_FRACTIONS: tuple[float, ...] = (0.10, 0.25, 0.50, 0.75, 1.00)
# warm-up at base, surge at peak, cool-down at base (seconds)
SURGE_SECONDS: dict[str, tuple[int, int, int]] = {
    "local": (20, 60, 40),
    "development": (60, 180, 120),
    "staging": (120, 600, 300),
    "production": (300, 900, 600),
}


@dataclass(frozen=True)
class Stage:
    end_s: float  # the stage lasts until this many seconds into the run
    users: int
    spawn_rate: float  # users per second (all workers together)


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = settings().raw(name)
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise ValueError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def environment_name() -> str:
    env = settings().str_value("AIDEON_ENV")
    if env not in TARGET_USERS:
        raise ValueError(f"AIDEON_ENV={env!r}: expected one of {', '.join(TARGET_USERS)}")
    return env


def ramp_stages(target: int, duration_s: float, fractions: tuple[float, ...] = STAGE_FRACTIONS) -> list[Stage]:
    """Stages of equal length; each ramps to its share of `target` in its first half."""
    if target < 1 or duration_s <= 0:
        raise ValueError("target users and duration must be positive")
    stage_len = duration_s / len(fractions)
    stages: list[Stage] = []
    previous = 0
    for i, fraction in enumerate(fractions):
        users = max(1, round(target * fraction))
        rate = max(1.0, abs(users - previous) / (stage_len / 2))
        stages.append(Stage((i + 1) * stage_len, users, round(rate, 3)))
        previous = users
    return stages


def surge_stages(base: int, peak: int, seconds: tuple[int, int, int]) -> list[Stage]:
    """Base load, a sudden jump to the peak (reached within a tenth of the surge), back to base."""
    warm, surge, cool = seconds
    if base < 1 or peak < base or min(seconds) <= 0:
        raise ValueError("surge needs 1 <= base <= peak and positive durations")
    rise = max(1.0, (peak - base) / max(1.0, surge / 10))
    return [
        Stage(warm, base, max(1.0, base / max(1.0, warm / 4))),
        Stage(warm + surge, peak, round(rise, 3)),
        Stage(warm + surge + cool, base, round(rise, 3)),
    ]


def stage_at(stages: list[Stage], run_time_s: float) -> tuple[int, float] | None:
    """(users, spawn rate) at a moment of the run, None once the last stage is over."""
    for stage in stages:
        if run_time_s < stage.end_s:
            return stage.users, stage.spawn_rate
    return None


def or_exit(build: Callable[[], list[Stage]]) -> list[Stage]:
    """Stages from `build`, or a one-line message on stderr and exit code 2."""
    try:
        return build()
    except ValueError as exc:
        print(f"shapes.py: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def ramp_from_env() -> list[Stage]:
    env = environment_name()
    target = _env_int("AIDEON_TARGET_USERS", TARGET_USERS[env])
    duration = _env_int("AIDEON_RAMP_SECONDS", RAMP_SECONDS[env])
    return ramp_stages(target, duration)


def surge_from_env() -> list[Stage]:
    env = environment_name()
    peak = _env_int("AIDEON_SURGE_PEAK", TARGET_USERS[env])
    base = _env_int("AIDEON_SURGE_BASE", max(1, peak // 10))
    raw = settings().raw("AIDEON_SURGE_SECONDS")
    seconds = SURGE_SECONDS[env]
    if raw:
        try:
            w, s, c = (int(x) for x in raw.split(","))
        except ValueError:
            raise ValueError(f"AIDEON_SURGE_SECONDS={raw!r}: expected WARM,SURGE,COOL in seconds") from None
        seconds = (w, s, c)
    return surge_stages(base, peak, seconds)


