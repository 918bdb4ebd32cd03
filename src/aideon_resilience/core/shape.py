"""An environment's declared cluster shape, read from `manifests/environments/<env>/cluster-shape.yaml`.

The lint and the capacity plan reason about what the declared cluster can hold: how many
schedulable nodes, over how many zones, with how much allocatable CPU and memory each.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aideon_resilience.errors import InputFileError, from_validation

SHAPE_FILE = "cluster-shape.yaml"


class NodeAllocatable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpu_millis: int = Field(gt=0, alias="cpuMillis")
    memory_mib: int = Field(gt=0, alias="memoryMiB")
    pods: int = Field(default=110, gt=0)


class ClusterShape(BaseModel):
    """Schedulable nodes, zone names and per-node allocatable resources of one environment."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    environment: str
    nodes: int = Field(gt=0)
    zones: list[str] = Field(min_length=1)
    node_allocatable: NodeAllocatable = Field(alias="nodeAllocatable")

    @property
    def zone_count(self) -> int:
        return len(self.zones)


def load_cluster_shape(path: Path) -> ClusterShape:
    """Load a shape from a `cluster-shape.yaml` file or an environment directory holding one."""
    file = path / SHAPE_FILE if path.is_dir() else path
    if not file.is_file():
        raise InputFileError(file, "no cluster shape file (expected nodes, zones, nodeAllocatable)")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputFileError(file, f"invalid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise InputFileError(file, "expected a mapping with nodes, zones, nodeAllocatable")
    try:
        return ClusterShape.model_validate(data)
    except ValidationError as exc:
        raise from_validation(file, exc) from None
