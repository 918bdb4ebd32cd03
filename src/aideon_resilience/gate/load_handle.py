"""The seam between the gate and a target's load: what the gate asks, what it gets back.

Each target starts the load that fits it (`Target.start_load`): Locust against the gateway of
the local cluster or of a remote one, or, in a rehearsal, a modelled load. The gate only starts
it, lets it warm up, hands its environment to the experiments and stops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aideon_resilience.adapters.kube.sampler import TimelineWriter
from aideon_resilience.core.gateconfig import LoadConfig


@dataclass(frozen=True)
class LoadRequest:
    """What the gate asks of a target's load for one run."""

    config: LoadConfig
    locustfile: Path
    env: str
    run_dir: Path
    windows_file: Path
    bound_s: int  # the load never runs longer
    timeline: TimelineWriter
    gateway_url: str | None  # where the target's gateway answers (None: no client traffic)


class LoadHandle(Protocol):
    """A load that runs through the suite: Locust against a gateway, or a modelled load."""

    users: int  # the target (peak) users
    warmup_s: float  # how long the gate lets it run before the suite starts
    env: dict[str, str]  # what the experiments need to know of it
    modelled: bool  # no request is sent: users and their effects are modelled

    def running(self) -> bool: ...

    def stop(self) -> int: ...
