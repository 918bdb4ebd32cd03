"""The rehearsal's modelled load agrees with the capacity plan: the HPA formula fed with the
modelled CPU per pod settles where the plan says the replicas are needed."""

from __future__ import annotations

import pytest

from aideon_resilience.core.plan import capacity as pl
from aideon_resilience.core.plan.loadmodel import UserSchedule, hpa_desired, pod_cpu_millis, service_rps
from aideon_resilience.core.profiles import PROFILES, service_rps_per_user

CAP = pl.WorkerCapacity(users_per_worker=10_000, rps_per_worker=2_000, memory_per_user_kib=24,
                        worker_base_memory_mib=80)
TARGET = 0.7
REQUEST = 2000


def _settle(service: str, rps: float, start: int) -> int:
    """Replicas after the HPA formula has run to a fixed point (each step: every pod's CPU)."""
    replicas = start
    for _ in range(100):
        wanted = hpa_desired(replicas, pod_cpu_millis(service, rps, replicas), REQUEST, TARGET)
        if wanted == replicas:
            return replicas
        replicas = wanted
    raise AssertionError(f"{service}: the HPA formula did not settle")


@pytest.mark.parametrize("users", [20_000, 1_000_000])
def test_hpa_on_modelled_cpu_settles_at_the_plans_replicas(users: int) -> None:
    bounds = [pl.ServiceBounds(name=n, cpu_request_millis=REQUEST, min_replicas=2, max_replicas=100_000,
                               target_utilization=TARGET) for n in PROFILES]
    plan = pl.make_plan(users, CAP, bounds, pl.ClusterBounds("test", 100_000, 16_000))
    rps = service_rps(users)
    checked = 0
    for sp in plan.services:
        if rps.get(sp.name, 0) == 0:
            continue
        settled = _settle(sp.name, rps[sp.name], start=2)
        # the HPA stops within its 10% tolerance of the target, never above the plan's figure
        assert settled <= sp.replicas_needed, sp.name
        utilization = pod_cpu_millis(sp.name, rps[sp.name], settled) / REQUEST
        assert utilization <= TARGET * 1.1 + 1 / REQUEST, sp.name
        assert settled >= sp.replicas_needed * 0.9 - 1, sp.name
        checked += 1
    assert checked >= 5


def test_service_rps_is_the_plans_traffic_model() -> None:
    per_user = service_rps_per_user()
    rps = service_rps(1_000_000)
    assert rps["api-gateway"] == pytest.approx(per_user["api-gateway"] * 1_000_000)
    assert set(rps) == set(per_user)


def test_pod_cpu_is_shared_by_ready_pods() -> None:
    cpu_ms = PROFILES["api-gateway"].cpu_ms
    assert pod_cpu_millis("api-gateway", 1000, 4) == pytest.approx(1000 * cpu_ms / 4, abs=1)
    assert pod_cpu_millis("api-gateway", 0, 4) == 1
    assert pod_cpu_millis("api-gateway", 1000, 0) == 0


def test_schedule_ramps_holds_surges_and_ends() -> None:
    s = UserSchedule(users=1000, ramp_s=100, hold_s=50, surge_users=1500, surge_s=30)
    assert [s.users_at(t) for t in (-1, 0, 50, 100, 149, 150, 179, 180, 229, 230, 231)] == [
        0, 1, 500, 1000, 1000, 1500, 1500, 1000, 1000, 1000, 0]
    assert s.duration_s == 230
    with pytest.raises(ValueError, match="surge_users at least users"):
        UserSchedule(users=10, ramp_s=1, hold_s=1, surge_users=5, surge_s=1)
