"""Load shapes for the gateway locustfile, chosen with AIDEON_SHAPE=ramp|surge (see gateway.py).

StagedRamp climbs in five stages (10%, 25%, 50%, 75%, 100%) toward a target chosen by the
environment (AIDEON_ENV: local 200 users, development 1,000, staging 100,000, production
1,000,000), each stage ramping in its first half and holding in its second; the whole run is
bounded by a duration per environment (AIDEON_TARGET_USERS and AIDEON_RAMP_SECONDS override).
Surge holds a base load, jumps to a peak for the autoscaling experiment, drops back and stops
(AIDEON_SURGE_BASE, AIDEON_SURGE_PEAK, AIDEON_SURGE_SECONDS="WARM,SURGE,COOL"). `tick()` runs on
the master. The stage arithmetic lives in aideon_resilience.adapters.locust.stages.
"""

from __future__ import annotations

from locust import LoadTestShape

from aideon_resilience.adapters.locust.stages import or_exit, ramp_from_env, stage_at, surge_from_env


class StagedRamp(LoadTestShape):
    """Five stages toward the environment's target users, bounded in time."""

    def __init__(self) -> None:
        super().__init__()
        self.stages = or_exit(ramp_from_env)

    def tick(self) -> tuple[int, float] | None:
        return stage_at(self.stages, self.get_run_time())


class Surge(LoadTestShape):
    """Base load, a surge to the peak for the autoscaling experiment, back to base, stop."""

    def __init__(self) -> None:
        super().__init__()
        self.stages = or_exit(surge_from_env)

    def tick(self) -> tuple[int, float] | None:
        return stage_at(self.stages, self.get_run_time())
