"""What the gate runs for an environment: `manifests/environments/<env>/gate.yaml`.

The chaos suite (experiment names under `chaos/`, run in order), the Locust load that runs
through the whole suite, and the bounds that keep a gate run finite. Validated with one-line
errors naming the file and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aideon_resilience.errors import InputFileError, from_validation

GATE_FILE = "gate.yaml"
MAX_USERS = 1_000_000
MAX_GATE_SECONDS = 4 * 3600


class LoadConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    shape: Literal["ramp", "surge", "none"] = "ramp"
    users: int = Field(default=50, gt=0, le=MAX_USERS)
    spawn_rate: float = Field(default=10, gt=0)
    warmup_seconds: float = Field(default=20, ge=0, le=600)
    cooldown_seconds: float = Field(default=10, ge=0, le=600)
    workers: int = Field(default=0, ge=0, le=64, description="Locust worker processes (0: one process)")


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


def load_gate_config(path: Path) -> GateConfig:
    """Load `gate.yaml` (a file, or an environment directory holding one)."""
    file = path / GATE_FILE if path.is_dir() else path
    if not file.is_file():
        raise InputFileError(file, "no gate configuration (expected experiments, load)")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        raise InputFileError(file, "invalid YAML") from None
    if not isinstance(data, dict):
        raise InputFileError(file, "expected a mapping with experiments and load")
    try:
        return GateConfig.model_validate(data)
    except ValidationError as exc:
        raise from_validation(file, exc) from None
