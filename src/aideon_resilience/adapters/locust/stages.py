"""The stages of the locustfile's shapes (loadtests/shapes.py), from what the gate hands them.

The figures are an environment's gate.yaml `load` block, the one source of truth: the gate
passes them as the variables of `core.gateconfig.shape_environment` (AIDEON_TARGET_USERS,
AIDEON_SPAWN_RATE, AIDEON_RAMP_*, AIDEON_SURGE_*, AIDEON_SHAPE_SECONDS). A locustfile run by
hand without them reads the gate.yaml of AIDEON_ENV (default local) under `manifests/`. No
Locust import: tested without a Locust process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from aideon_resilience.core.config.gate import GATE_FILE, LoadConfig, load_gate_config, shape_environment
from aideon_resilience.core.config.loadshape import Stage, parse_phases, ramp_stages, stage_at, surge_stages
from aideon_resilience.errors import AideonError
from aideon_resilience.settings import Settings, settings

__all__ = ["Stage", "or_exit", "ramp_from_env", "stage_at", "surge_from_env"]

REPO_MANIFESTS = Path(__file__).resolve().parents[4] / "manifests"


def _figures(env: Settings, manifests: Path) -> Settings:
    """The shape variables as handed by the gate, else from the environment's gate.yaml."""
    if env.raw("AIDEON_TARGET_USERS") is not None:
        return env
    name = env.text("AIDEON_ENV") or "local"
    file = manifests / "environments" / name / GATE_FILE
    if not file.is_file():
        raise ValueError(f"AIDEON_ENV={name!r}: no {file}; set AIDEON_TARGET_USERS and AIDEON_SPAWN_RATE")
    try:
        config = load_gate_config(file)
    except AideonError as exc:
        raise ValueError(str(exc)) from None
    load: LoadConfig = config.load
    seconds = config.max_seconds + load.warmup_seconds + load.cooldown_seconds
    return Settings(shape_environment(load, seconds))


def _integer(env: Settings, name: str) -> int:
    value = env.integer(name)
    if value is None or value < 1:
        raise ValueError(f"{name}={env.raw(name)!r}: expected a whole number of at least 1")
    return value


def _number(env: Settings, name: str) -> float:
    value = env.number(name)
    if value is None or value <= 0:
        raise ValueError(f"{name}={env.raw(name)!r}: expected a positive number")
    return value


def _read(build: Callable[[Settings], list[Stage]], env: Settings | None, manifests: Path | None) -> list[Stage]:
    try:
        return build(_figures(env or settings(), manifests or REPO_MANIFESTS))
    except AideonError as exc:  # a malformed variable (Settings)
        raise ValueError(str(exc).removeprefix("environment: ")) from None


def _ramp(env: Settings) -> list[Stage]:
    users = _integer(env, "AIDEON_TARGET_USERS")
    rate = _number(env, "AIDEON_SPAWN_RATE")
    hold = env.number("AIDEON_RAMP_HOLD_SECONDS") or 0.0
    raw = env.names("AIDEON_RAMP_STAGES")
    try:
        fractions = tuple(float(x) for x in raw) if raw else None
    except ValueError:
        bad = env.raw("AIDEON_RAMP_STAGES")
        raise ValueError(f"AIDEON_RAMP_STAGES={bad!r}: expected shares such as 0.5,1") from None
    total = env.integer("AIDEON_SHAPE_SECONDS")
    if fractions is None:
        return ramp_stages(users, rate, hold, total)
    return ramp_stages(users, rate, hold, total, fractions)


def _surge(env: Settings) -> list[Stage]:
    peak = _integer(env, "AIDEON_TARGET_USERS") if env.raw("AIDEON_SURGE_PEAK") is None \
        else _integer(env, "AIDEON_SURGE_PEAK")
    base = env.integer("AIDEON_SURGE_BASE") or max(1, peak // 10)
    raw = env.text("AIDEON_SURGE_PHASES")
    if raw is None:
        raise ValueError("AIDEON_SURGE_PHASES: expected WARM,SURGE,COOL in seconds")
    try:
        phases = parse_phases(raw)
    except ValueError as exc:
        raise ValueError(f"AIDEON_SURGE_PHASES={exc}") from None
    rate = env.number("AIDEON_SPAWN_RATE")
    return surge_stages(base, peak, phases, rate)


def ramp_from_env(env: Settings | None = None, manifests: Path | None = None) -> list[Stage]:
    return _read(_ramp, env, manifests)


def surge_from_env(env: Settings | None = None, manifests: Path | None = None) -> list[Stage]:
    return _read(_surge, env, manifests)


def or_exit(build: Callable[[], list[Stage]]) -> list[Stage]:
    """Stages from `build`, or a one-line message on stderr and exit code 2."""
    try:
        return build()
    except ValueError as exc:
        print(f"shapes.py: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
