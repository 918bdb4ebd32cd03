"""An environment's declared cluster shape, read from `manifests/environments/<env>/cluster-shape.yaml`.

The lint and the capacity plan reason about what the declared cluster can hold: how many
schedulable nodes, over how many zones, with how much allocatable CPU and memory each.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from aideon_resilience.core.files import in_directory, load_model

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
    return load_model(in_directory(path, SHAPE_FILE), ClusterShape, "a mapping with nodes, zones, nodeAllocatable",
                      missing="no cluster shape file (expected nodes, zones, nodeAllocatable)")
