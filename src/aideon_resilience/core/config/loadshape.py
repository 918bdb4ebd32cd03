"""Load shapes as stages: the staged ramp and the surge of an environment's gate.yaml.

Pure arithmetic (no Locust, no environment): the gate validates a gate.yaml with it (can the
ramp reach its users within the gate's bound?), and the locustfile's shapes
(`loadtests/shapes.py` through `adapters.locust.stages`) turn the same figures into what
`LoadTestShape.tick()` returns. The figures come from the environment's gate.yaml only; the
gate hands them to the locustfile as the variables of `shape_environment`.
"""

from __future__ import annotations

from dataclasses import dataclass

STAGE_FRACTIONS: tuple[float, ...] = (0.10, 0.25, 0.50, 0.75, 1.00)


@dataclass(frozen=True)
class Stage:
    end_s: float  # the stage lasts until this many seconds into the run
    users: int
    spawn_rate: float  # users per second (all workers together)


def ramp_seconds(users: int, spawn_rate: float, hold_s: float, fractions: tuple[float, ...] = STAGE_FRACTIONS) -> float:
    """Seconds until a staged ramp reaches `users`: every climb at `spawn_rate`, a hold between stages."""
    if users < 1 or spawn_rate <= 0 or hold_s < 0:
        raise ValueError("users and spawn rate must be positive, the hold not negative")
    return users / spawn_rate + hold_s * (len(fractions) - 1)


def ramp_stages(users: int, spawn_rate: float, hold_s: float, total_s: float | None = None,
                fractions: tuple[float, ...] = STAGE_FRACTIONS) -> list[Stage]:
    """Climb to each stage's share of `users` at `spawn_rate`, hold `hold_s`, climb on; the last
    stage holds until `total_s` (or for `hold_s` when no total is given)."""
    reach = ramp_seconds(users, spawn_rate, hold_s, fractions)
    stages: list[Stage] = []
    previous, t = 0, 0.0
    for i, fraction in enumerate(fractions):
        target = max(1, round(users * fraction))
        t += abs(target - previous) / spawn_rate
        last = i == len(fractions) - 1
        t = max(total_s if total_s is not None else reach + hold_s, t) if last else t + hold_s
        stages.append(Stage(round(t, 3), target, spawn_rate))
        previous = target
    return stages


def surge_stages(base: int, peak: int, seconds: tuple[float, float, float],
                 spawn_rate: float | None = None) -> list[Stage]:
    """Base load (reached at `spawn_rate`), a sudden jump to the peak (within a tenth of the surge),
    back to base, stop."""
    warm, surge, cool = seconds
    if base < 1 or peak < base or min(seconds) <= 0:
        raise ValueError("surge needs 1 <= base <= peak and positive durations")
    rise = max(1.0, (peak - base) / max(1.0, surge / 10))
    base_rate = spawn_rate if spawn_rate is not None else max(1.0, base / max(1.0, warm / 4))
    return [
        Stage(warm, base, base_rate),
        Stage(warm + surge, peak, round(rise, 3)),
        Stage(warm + surge + cool, base, round(rise, 3)),
    ]


def stage_at(stages: list[Stage], run_time_s: float) -> tuple[int, float] | None:
    """(users, spawn rate) at a moment of the run, None once the last stage is over."""
    for stage in stages:
        if run_time_s < stage.end_s:
            return stage.users, stage.spawn_rate
    return None


def parse_phases(raw: str) -> tuple[float, float, float]:
    """"WARM,SURGE,COOL" seconds; ValueError with a one-line reason."""
    try:
        warm, surge, cool = (float(x) for x in raw.split(","))
    except ValueError:
        raise ValueError(f"{raw!r}: expected WARM,SURGE,COOL in seconds") from None
    return warm, surge, cool
