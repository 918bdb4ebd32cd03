"""What `aideon-resilience rehearse --env E` runs: `manifests/environments/<env>/rehearsal.yaml`.

A rehearsal brings up a local cluster of the environment's declared shape, applies the
environment's own overlay, drives a modelled load (users over time: a ramp to `users`, a hold
while the HPAs settle, an optional surge) and, at peak, runs a chaos suite. The load is modelled,
never sent: see `core.loadmodel`. Validated with one-line errors naming the file and field.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aideon_resilience.core.config.gate import MAX_GATE_SECONDS, MAX_USERS, GateConfig, LoadConfig
from aideon_resilience.core.files import load_model
from aideon_resilience.core.plan.loadmodel import UserSchedule

REHEARSAL_FILE = "rehearsal.yaml"
MAX_MODELLED_USERS = 10_000_000
_EXPERIMENT_VARIABLE = re.compile(r"^AIDEON_(CHAOS|SLO)_[A-Z0-9_]+$")


class RehearsalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: int = Field(gt=0, le=MAX_MODELLED_USERS, description="modelled users at peak")
    ramp_seconds: float = Field(gt=0, le=3600)
    hold_seconds: float = Field(default=120, ge=0, le=3600, description="peak held before the suite")
    surge_users: int | None = Field(default=None, gt=0, le=MAX_MODELLED_USERS)
    surge_seconds: float = Field(default=0, ge=0, le=3600)
    experiments: list[str] = Field(min_length=1)
    experiment_timeout_seconds: float = Field(default=600, gt=0, le=3600)
    settle_seconds: float = Field(default=20, ge=0, le=600)
    max_seconds: float = Field(default=1800, gt=0, le=MAX_GATE_SECONDS)
    deploy_timeout_seconds: float = Field(default=900, gt=0, le=3600)
    # handed to every experiment of the suite: the shape's own figures (nodes drained at once,
    # the zone lost, how long it stays lost)
    experiment_env: dict[str, str] = Field(default_factory=dict)

    @field_validator("experiment_env")
    @classmethod
    def _variables(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _EXPERIMENT_VARIABLE.match(name):
                raise ValueError(f"{name!r} is not an experiment variable (AIDEON_CHAOS_* or AIDEON_SLO_*)")
        return value

    @model_validator(mode="after")
    def _fits(self) -> RehearsalConfig:
        if self.surge_users is not None and self.surge_users < self.users:
            raise ValueError("surge_users must be at least users")
        if self.warmup_seconds >= self.max_seconds:
            raise ValueError(f"ramp, hold and surge take {self.warmup_seconds:g}s: nothing left of "
                             f"max_seconds {self.max_seconds:g} for the suite")
        return self

    @property
    def warmup_seconds(self) -> float:
        """From the start of the load until the suite starts: ramp, hold, surge."""
        return self.ramp_seconds + self.hold_seconds + (self.surge_seconds if self.surge_users else 0)

    def with_users(self, users: int | None) -> RehearsalConfig:
        """The configuration for `--users N` (a surge scales with it)."""
        if users is None or users == self.users:
            return self
        surge = None if self.surge_users is None else round(self.surge_users * users / self.users)
        return self.model_copy(update={"users": users, "surge_users": surge})

    def schedule(self) -> UserSchedule:
        """Ramp, hold, surge, then the peak held for as long as the suite runs."""
        surge = self.surge_users or self.users
        return UserSchedule(self.users, self.ramp_seconds, self.hold_seconds, surge,
                            self.surge_seconds if self.surge_users else 0)

    def gate_config(self) -> GateConfig:
        """The suite and bounds as the gate runs them (its Locust load stays unused)."""
        return GateConfig(
            experiments=self.experiments, experiment_timeout_seconds=self.experiment_timeout_seconds,
            settle_seconds=self.settle_seconds, max_seconds=self.max_seconds,
            load=LoadConfig(users=min(self.users, MAX_USERS), warmup_seconds=0, cooldown_seconds=0),
        )


def load_rehearsal_config(env_dir: Path) -> RehearsalConfig:
    """Load an environment's `rehearsal.yaml`."""
    return load_model(env_dir / REHEARSAL_FILE, RehearsalConfig, "a mapping with users, ramp_seconds and experiments",
                      missing="no rehearsal configuration (expected users, ramp_seconds, experiments)")
