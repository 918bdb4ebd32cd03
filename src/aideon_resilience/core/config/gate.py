"""What the gate runs for an environment: `manifests/environments/<env>/gate.yaml`.

The chaos suite (experiment names under `chaos/`, run in order), the Locust load that runs
through the whole suite, and the bounds that keep a gate run finite. Validated with one-line
errors naming the file and field.

The `load` block is the one source of truth for an environment's load: target users, the
shape (ramp stages and holds, or a surge), the spawn rate and the Locust worker processes
(`auto`: what the capacity plan says for the users, `core.plan.workers_needed`). A load that
cannot reach its users within `max_seconds`, or whose workers cannot carry its users by the
measured capacity (`core/plan/capacity.json`), is refused before anything starts.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aideon_resilience.core.config.loadshape import STAGE_FRACTIONS, ramp_seconds
from aideon_resilience.core.files import in_directory, load_model
from aideon_resilience.core.plan.capacity import WorkerCapacity, load_capacity, workers_needed
from aideon_resilience.errors import InputFileError

GATE_FILE = "gate.yaml"
MAX_USERS = 1_000_000
MAX_GATE_SECONDS = 4 * 3600


class RampConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stages: list[float] = Field(
        default_factory=lambda: list(STAGE_FRACTIONS), min_length=1,
        description="shares of the users, climbed to one after the other; the last is 1",
    )
    hold_seconds: float = Field(default=60, ge=0, le=3600, description="hold at each stage before climbing on")

    @field_validator("stages")
    @classmethod
    def _rising(cls, value: list[float]) -> list[float]:
        if any(not 0 < f <= 1 for f in value) or any(b <= a for a, b in pairwise(value)):
            raise ValueError("stages must rise strictly within (0, 1]")
        if value[-1] != 1:
            raise ValueError("the last stage must be 1 (all the users)")
        return value


class SurgeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_share: float = Field(default=0.1, gt=0, le=1, description="users before and after the surge, as a share")
    warm_seconds: float = Field(default=60, gt=0)
    surge_seconds: float = Field(default=180, gt=0)
    cool_seconds: float = Field(default=120, gt=0)

    @property
    def phases(self) -> tuple[float, float, float]:
        return self.warm_seconds, self.surge_seconds, self.cool_seconds


class LoadConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    shape: Literal["ramp", "surge", "none"] = "ramp"
    users: int = Field(default=50, gt=0, le=MAX_USERS)
    spawn_rate: float = Field(default=10, gt=0, description="users started per second, all workers together")
    warmup_seconds: float = Field(default=20, ge=0, le=600)
    cooldown_seconds: float = Field(default=10, ge=0, le=600)
    workers: int | Literal["auto"] = Field(
        default=0,
        description="Locust worker processes: 0 one process, N a master and N workers, auto the plan's count",
    )
    max_worker_loss: float = Field(
        default=0.1, ge=0, lt=1, description="share of the workers a run may lose before it is inconclusive"
    )
    ramp: RampConfig = Field(default_factory=RampConfig)
    surge: SurgeConfig = Field(default_factory=SurgeConfig)

    @field_validator("workers")
    @classmethod
    def _workers(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("must be 0 (one process), a number of workers or auto")
        return value

    @property
    def worker_count(self) -> int:
        """The resolved worker processes (`load_gate_config` resolves `auto`)."""
        if not isinstance(self.workers, int):
            raise ValueError("workers: auto is resolved by load_gate_config")
        return self.workers

    @property
    def surge_base(self) -> int:
        return max(1, round(self.users * self.surge.base_share))

    def reach_seconds(self) -> float:
        """Seconds until the shape first runs its full users (for a surge: its base)."""
        if self.shape == "ramp":
            return ramp_seconds(self.users, self.spawn_rate, self.ramp.hold_seconds, tuple(self.ramp.stages))
        if self.shape == "surge":
            return self.surge_base / self.spawn_rate
        return self.users / self.spawn_rate


class GateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Literal["local", "cluster"] = Field(
        default="cluster",
        description="local: the embedded cluster with its data plane; cluster: one named by an allow-listed context",
    )
    experiments: list[str] = Field(min_length=1)
    experiment_timeout_seconds: float = Field(default=300, gt=0, le=3600)
    settle_seconds: float = Field(
        default=20, ge=0, le=600, description="pause between experiments so one's blip is not the next one's start"
    )
    max_seconds: float = Field(default=900, gt=0, le=MAX_GATE_SECONDS)
    load: LoadConfig = Field(default_factory=LoadConfig)

    @field_validator("experiments")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name or "/" in name or name.startswith("."):
                raise ValueError(f"experiment names are file stems under chaos/, got {name!r}")
        if len(set(value)) != len(value):
            raise ValueError("an experiment is listed twice")
        return value


def _load_problem(config: GateConfig, capacity: WorkerCapacity) -> tuple[str, str] | None:
    """(field, problem) when the load cannot do what it declares, else None."""
    load = config.load
    if not load.enabled:
        return None
    reach = load.reach_seconds()
    if load.shape == "surge":
        if reach > load.surge.warm_seconds:
            return ("load.spawn_rate", f"{load.spawn_rate:g} users/s reaches the surge's base of {load.surge_base:,} "
                    f"users in {reach:,.0f}s, longer than surge.warm_seconds {load.surge.warm_seconds:g}")
        total = sum(load.surge.phases)
        if total > config.max_seconds:
            return ("load.surge", f"the surge lasts {total:,.0f}s, more than max_seconds {config.max_seconds:g}")
    elif reach > config.max_seconds:
        holds = len(load.ramp.stages) - 1 if load.shape == "ramp" else 0
        how = f" and {holds} holds of {load.ramp.hold_seconds:g}s" if holds else ""
        needed = load.users / max(1.0, config.max_seconds - (reach - load.users / load.spawn_rate))
        return ("load.spawn_rate", f"{load.spawn_rate:g} users/s{how} reach {load.users:,} users after {reach:,.0f}s, "
                f"more than max_seconds {config.max_seconds:g} (needs at least {needed:,.0f} users/s)")
    workers = load.worker_count
    if workers > capacity.max_workers_per_master:
        return ("load.workers", f"{workers} workers, one Locust master drives at most "
                f"{capacity.max_workers_per_master} (core/plan/capacity.json max_workers_per_master)")
    carried = max(1, workers) * capacity.users_per_worker
    if carried < load.users:
        what = ("one Locust process carries" if workers == 0 else "1 worker carries" if workers == 1
                else f"{workers} workers carry")
        return ("load.workers", f"{what} {carried:,} users by the measured capacity "
                f"({capacity.users_per_worker:,} each, core/plan/capacity.json), fewer than users {load.users:,}; "
                f"the plan needs {workers_needed(load.users, capacity)} (or say auto)")
    return None


def resolve_load(config: GateConfig, capacity: WorkerCapacity) -> GateConfig:
    """`workers: auto` resolved to the plan's worker count for the users."""
    if config.load.workers != "auto":
        return config
    load = config.load.model_copy(update={"workers": workers_needed(config.load.users, capacity)})
    return config.model_copy(update={"load": load})


def load_gate_config(path: Path, capacity: WorkerCapacity | None = None) -> GateConfig:
    """Load `gate.yaml` (a file, or an environment directory holding one), `auto` workers resolved
    and the load checked against the gate's bound and the measured worker capacity."""
    file = in_directory(path, GATE_FILE)
    config = load_model(file, GateConfig, "a mapping with experiments and load",
                        missing="no gate configuration (expected experiments, load)")
    config = resolve_load(config, capacity or load_capacity())
    problem = _load_problem(config, capacity or load_capacity())
    if problem is not None:
        raise InputFileError(file, problem[1], field=problem[0])
    return config


def shape_environment(load: LoadConfig, run_seconds: float) -> dict[str, str]:
    """The variables the gate hands the locustfile so its shape runs this gate.yaml's load
    (declared in `settings.VARIABLES`, read by `adapters.locust.stages`)."""
    return {
        "AIDEON_SHAPE": load.shape,
        "AIDEON_TARGET_USERS": str(load.users),
        "AIDEON_SPAWN_RATE": f"{load.spawn_rate:g}",
        "AIDEON_SHAPE_SECONDS": str(max(1, int(run_seconds))),
        "AIDEON_RAMP_STAGES": ",".join(f"{f:g}" for f in load.ramp.stages),
        "AIDEON_RAMP_HOLD_SECONDS": f"{load.ramp.hold_seconds:g}",
        "AIDEON_SURGE_BASE": str(load.surge_base),
        "AIDEON_SURGE_PEAK": str(load.users),
        "AIDEON_SURGE_PHASES": ",".join(f"{s:g}" for s in load.surge.phases),
    }
