"""The seam between the gate and a target's load: what the gate asks, what it gets back.

Each target starts the load that fits it (`Target.start_load`): Locust on this machine (one
process, or a loopback master and workers) for the local cluster, the in-cluster load generator
for a remote one, a modelled load for a rehearsal. The gate only starts it, lets it warm up,
hands its environment to the experiments and stops it (also after a failure or an interrupt).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aideon_resilience.core.config.gate import LoadConfig
from aideon_resilience.core.evidence.timeline_writer import TimelineWriter


@dataclass(frozen=True)
class LoadSpec:
    """The load of one run: gate.yaml's `load`, where it goes and where its evidence lands."""

    load: LoadConfig
    locustfile: Path
    gateway_url: str | None  # None: no gateway to send requests to
    run_dir: Path
    windows_file: Path
    run_seconds: int  # the load never runs longer
    env: str
    timeline: TimelineWriter | None = None  # for a load that records its own evidence (modelled)


class RunningLoad(Protocol):
    """A load the gate started."""

    workers: int  # Locust workers (0: one process or none)
    users: int  # the target (peak) users
    warmup_s: float  # how long the gate lets it run before the suite starts
    env: dict[str, str]  # what the experiments need to know of it
    modelled: bool  # no request is sent: users and their effects are modelled

    def running(self) -> bool: ...

    def stop(self, grace: float = 20) -> int:
        """Stop it for good (also on an interrupt), its evidence in the run directory."""
        ...


def locust_environment(spec: LoadSpec) -> dict[str, str]:
    """What the experiments get to know of a Locust load the gate runs."""
    return {
        "AIDEON_GATEWAY_URL": spec.gateway_url or "",
        "AIDEON_WINDOWS_FILE": str(spec.windows_file),
        "AIDEON_LOAD_EXTERNAL": "1",  # the gate runs the load; experiments only read it
    }
