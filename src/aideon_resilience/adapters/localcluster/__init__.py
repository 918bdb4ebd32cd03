"""The local embedded cluster: Kubernetes control plane built from Go modules, KWOK nodes."""

from aideon_resilience.adapters.localcluster.cluster import ClusterStatus, LocalCluster
from aideon_resilience.adapters.localcluster.nodes import (
    make_node_unreachable,
    make_node_unready,
    nodes_by_zone,
    restore_node,
)
from aideon_resilience.adapters.localcluster.paths import CONTEXT, ClusterPaths

__all__ = [
    "CONTEXT",
    "ClusterPaths",
    "ClusterStatus",
    "LocalCluster",
    "make_node_unreachable",
    "make_node_unready",
    "nodes_by_zone",
    "restore_node",
]
