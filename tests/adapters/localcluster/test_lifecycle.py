"""`cluster up` / `down` / `status` / `env` on a cluster of its own (not the shared test cluster)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from aideon_resilience.adapters.localcluster import ClusterPaths, LocalCluster
from aideon_resilience.adapters.localhost import pid_alive
from aideon_resilience.errors import UsageError

pytestmark = pytest.mark.cluster


@pytest.fixture()
def own_cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster(ClusterPaths(name="aideon-lifecycle"))
    try:
        yield cluster
    finally:
        cluster.down()


def test_up_twice_reuses_and_down_twice_leaves_no_process(own_cluster: LocalCluster) -> None:
    first = own_cluster.up(nodes=3, zones=3)
    assert first.healthy and first.ready_nodes == 3 and first.metrics_api
    assert first.nodes == {"zone-a": ["node-a1"], "zone-b": ["node-b1"], "zone-c": ["node-c1"]}
    assert all(c.running for c in first.components), first.components
    pids = [c.pid for c in first.components if c.pid is not None]
    assert len(pids) == 6

    messages: list[str] = []
    second = own_cluster.up(nodes=4, zones=3, progress=messages.append)
    assert any("reusing the healthy local cluster" in m for m in messages)
    assert [c.pid for c in second.components if c.pid is not None] == pids  # same processes
    assert second.ready_nodes == 4 and second.nodes["zone-a"] == ["node-a1", "node-a2"]
    assert own_cluster.env_lines() == [f"export KUBECONFIG={own_cluster.paths.kubeconfig}"]

    assert own_cluster.down() is True
    assert not any(pid_alive(p) for p in pids)
    assert own_cluster.status().exists is False
    assert own_cluster.down() is False  # idempotent

    third = own_cluster.up(nodes=3, zones=3)
    assert third.healthy
    own_cluster.down()
    assert not any(pid_alive(c.pid) for c in third.components if c.pid is not None)


def test_a_taken_port_is_refused_before_anything_starts(own_cluster: LocalCluster) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        with pytest.raises(UsageError, match=rf"--port: port {port} on 127.0.0.1 is already in use"):
            own_cluster.up(nodes=3, zones=3, apiserver_port=port)
    assert not own_cluster.exists()
