"""The rehearsal's load: modelled users turned into CPU per pod, never into requests.

A thread follows the rehearsal's schedule (ramp, hold, surge, then the peak held until stopped).
Every tick it sets each ready pod's CPU for the current users through KWOK's usage emulation
(`adapters.kube.modelled_cpu`), so the real HPA controller scales the workloads; and, whenever
the users change, it records a `modelled_load` timeline sample with the users and, by the
capacity plan for that many users and the overlay's declared bounds, the replicas each workload
needs: the evidence the `plan_replicas` and `zone_capacity` SLOs judge.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kubernetes import client

from aideon_resilience.adapters.kube.modelled_cpu import ModelledCpu
from aideon_resilience.core.evidence.timeline import ModelledLoadSample
from aideon_resilience.core.evidence.timeline_writer import TimelineWriter
from aideon_resilience.core.plan.capacity import ClusterBounds, ServiceBounds, WorkerCapacity, make_plan
from aideon_resilience.core.plan.loadmodel import UserSchedule

TICK_S = 5.0


def plan_needs(users: int, services: list[ServiceBounds], cluster: ClusterBounds,
               capacity: WorkerCapacity) -> dict[str, int]:
    """Replicas the capacity plan needs of each workload at `users` (at least its minimum)."""
    plan = make_plan(users, capacity, services, cluster)
    return {s.name: s.replicas_needed for s in plan.services}


class ModelledLoad:
    """A running modelled load: `running()`, `stop()`, and what the gate reads of any load."""

    modelled = True
    workers = 0  # no Locust

    def __init__(self, api: client.ApiClient, schedule: UserSchedule, needs: Callable[[int], dict[str, int]],
                 writer: TimelineWriter | None, warmup_s: float, clock: Callable[[], float] = time.time) -> None:
        self.schedule = schedule
        self.users = max(schedule.users, schedule.surge_users)
        self.warmup_s = warmup_s
        self.env: dict[str, str] = {}  # nothing for the experiments: no gateway, no windows
        self.cpu = ModelledCpu(api)
        self._needs = needs
        self._writer = writer
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []

    def users_at(self, t: float) -> int:
        """Users `t` seconds in; after the schedule, its last figure (the peak) holds."""
        return self.schedule.users_at(min(t, self.schedule.duration_s))

    def start(self) -> ModelledLoad:
        self.cpu.start()
        self._thread = threading.Thread(target=self._drive, daemon=True, name="modelled-load")
        self._thread.start()
        return self

    def _drive(self) -> None:
        start = self._clock()
        last: int | None = None
        while not self._stop.is_set():
            users = self.users_at(self._clock() - start)
            if users != last:
                sample = ModelledLoadSample(t=self._clock(), users=users, needed=self._needs(users))
                if self._writer is not None:
                    self._writer.write(sample)
                last = users
            self.cpu.apply(users, on_error=self.errors.append)
            self._stop.wait(TICK_S)

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, grace: float = 20) -> int:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.cpu.stop()
        return 0
