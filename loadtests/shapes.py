"""Load shapes for the gateway locustfile, chosen with AIDEON_SHAPE=ramp|surge (see gateway.py).

The figures are an environment's gate.yaml `load` block, the one source of truth: the gate hands
them over as variables (AIDEON_TARGET_USERS, AIDEON_SPAWN_RATE, AIDEON_RAMP_STAGES,
AIDEON_RAMP_HOLD_SECONDS, AIDEON_SHAPE_SECONDS, AIDEON_SURGE_BASE, AIDEON_SURGE_PEAK,
AIDEON_SURGE_PHASES); run by hand without them, the shapes read
`manifests/environments/$AIDEON_ENV/gate.yaml` (default local).

StagedRamp climbs at the spawn rate to each stage's share of the users (10%, 25%, 50%, 75%,
100% by default), holds, climbs on, and holds the users until AIDEON_SHAPE_SECONDS. Surge holds a
base load, jumps to the peak for the autoscaling experiment, drops back and stops. `tick()` runs
on the master. The stage arithmetic lives in aideon_resilience.core.config.loadshape.
"""

from __future__ import annotations

from pathlib import Path

from locust import LoadTestShape

from aideon_resilience.adapters.locust.stages import or_exit, ramp_from_env, stage_at, surge_from_env

MANIFESTS = Path(__file__).resolve().parent.parent / "manifests"


class StagedRamp(LoadTestShape):
    """Stages toward the environment's target users, bounded in time."""

    def __init__(self) -> None:
        super().__init__()
        self.stages = or_exit(lambda: ramp_from_env(manifests=MANIFESTS))

    def tick(self) -> tuple[int, float] | None:
        return stage_at(self.stages, self.get_run_time())


class Surge(LoadTestShape):
    """Base load, a surge to the peak for the autoscaling experiment, back to base, stop."""

    def __init__(self) -> None:
        super().__init__()
        self.stages = or_exit(lambda: surge_from_env(manifests=MANIFESTS))

    def tick(self) -> tuple[int, float] | None:
        return stage_at(self.stages, self.get_run_time())
