"""Shared fixtures. Tests that need the local embedded cluster carry the `cluster` marker.

`kube_cluster` brings the local cluster up once per session (reusing a healthy one), points
KUBECONFIG at it, and stops it at the end only if this session started it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class KubeCluster:
    kubeconfig: Path
    context: str
    nodes: int
    zones: int


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[KubeCluster]:
    from aideon_resilience.adapters.localcluster import LocalCluster
    from aideon_resilience.adapters.localenv import stop_local

    cluster = LocalCluster()
    was_up = cluster.healthy()
    st = cluster.up(nodes=6, zones=3)
    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = st.kubeconfig
    try:
        yield KubeCluster(Path(st.kubeconfig), st.context, nodes=6, zones=3)
    finally:
        if old is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = old
        if not was_up and not os.environ.get("AIDEON_KEEP_CLUSTER"):
            stop_local(cluster)
