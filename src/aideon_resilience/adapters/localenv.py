"""The local embedded environment as one unit: the local cluster and the data plane running on it.

The cluster knows nothing of the data plane; what must treat both together (stop the data plane
before the cluster it watches, point a shell at both) lives here.
"""

from __future__ import annotations

from collections.abc import Callable

from aideon_resilience.adapters.dataplane import dataplane_env_lines, stop_dataplane
from aideon_resilience.adapters.localcluster import LocalCluster


def stop_local(cluster: LocalCluster | None = None, progress: Callable[[str], None] = lambda _: None) -> bool:
    """Stop the data plane, then every process of the cluster; False when there was no cluster."""
    cluster = cluster or LocalCluster()
    stop_dataplane(cluster.paths)
    return cluster.down(progress=progress)


def local_env_lines(cluster: LocalCluster | None = None) -> list[str]:
    """`export` lines for the cluster's kubeconfig and the data plane's gateway."""
    cluster = cluster or LocalCluster()
    return [*cluster.env_lines(), *dataplane_env_lines(cluster.paths)]
