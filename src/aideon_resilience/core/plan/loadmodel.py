"""Modelled load for a rehearsal at an environment's shape, where pods run nothing.

Users over time (a ramp to the target, a hold, a surge, the hold again) become requests per
second per service by the same traffic model the capacity plan uses
(`profiles.service_rps_per_user`), and those become CPU per ready pod from the stand-in
profiles' CPU per request. Reported as each pod's CPU usage, the real HPA controller then scales
every workload the way the plan predicts: a workload whose pods carry the service's whole load
has a desired replica count of ceil(total CPU / (request x target)), which is the plan's
`replicas_needed`. Everything here is modelled and every report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aideon_resilience.core.profiles import PROFILES, service_rps_per_user

MIN_POD_MILLIS = 1  # what KWOK reports for a pod without usage


@dataclass(frozen=True)
class UserSchedule:
    """Modelled users over time: ramp to `users`, hold, surge to `surge_users`, hold again."""

    users: int
    ramp_s: float
    hold_s: float
    surge_users: int
    surge_s: float

    def __post_init__(self) -> None:
        if self.users < 1 or self.surge_users < self.users:
            raise ValueError("users must be positive and surge_users at least users")
        if min(self.ramp_s, self.hold_s, self.surge_s) < 0:
            raise ValueError("durations must not be negative")

    @property
    def surge_start_s(self) -> float:
        return self.ramp_s + self.hold_s

    @property
    def duration_s(self) -> float:
        return self.ramp_s + 2 * self.hold_s + self.surge_s

    def users_at(self, t: float) -> int:
        """Users `t` seconds into the schedule (0 before it starts and after it ends)."""
        if t < 0 or t > self.duration_s:
            return 0
        if t < self.ramp_s:
            return max(1, round(self.users * t / self.ramp_s))
        if self.surge_start_s <= t < self.surge_start_s + self.surge_s:
            return self.surge_users
        return self.users


def service_rps(users: int, per_user: dict[str, float] | None = None) -> dict[str, float]:
    """Requests per second each service receives from `users` concurrent users (as in `plan`)."""
    rates = service_rps_per_user() if per_user is None else per_user
    return {service: rate * users for service, rate in rates.items()}


def pod_cpu_millis(service: str, rps: float, ready_pods: int) -> int:
    """CPU each ready pod of `service` uses when they share `rps` evenly (whole millicores)."""
    if ready_pods < 1:
        return 0
    cpu = rps * PROFILES[service].cpu_ms / ready_pods
    return max(MIN_POD_MILLIS, math.ceil(cpu))


def hpa_desired(current: int, pod_millis: int, request_millis: float, target_utilization: float,
                tolerance: float = 0.1) -> int:
    """The replica count Kubernetes' HPA computes for CPU utilization (its documented formula,
    with its default 10% tolerance): ceil(current x utilization / target)."""
    if current < 1 or request_millis <= 0:
        return current
    ratio = (pod_millis / request_millis) / target_utilization
    if abs(ratio - 1.0) <= tolerance:
        return current
    return math.ceil(current * ratio)
