"""The pod runtime without a cluster: pods handed to its watcher, an API server that records patches.

Real stand-in processes are started, probed, restarted and stopped; the pods' readiness and
port annotation go to the recording API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from aideon_resilience.adapters.dataplane.pod_env import ConfigMapSource, ContainerEnv, EnvEntry
from aideon_resilience.adapters.dataplane.pod_watch import PodInfo
from aideon_resilience.adapters.dataplane.runtime import PORT_ANNOTATION, PodRuntime
from tests.adapters.localcluster.kubehelpers import wait_for
from tests.standins import standin_state

UID = "uid-1"


class RecordingApi:
    """The calls of CoreV1Api the runtime makes on a tick."""

    def __init__(self) -> None:
        self.annotations: list[dict[str, Any]] = []
        self.conditions: list[list[dict[str, Any]]] = []
        self.node_ready = "True"
        self.configmaps: dict[tuple[str, str], dict[str, str]] = {}

    def read_namespaced_config_map(self, name: str, namespace: str, **_: Any) -> Any:
        if (namespace, name) not in self.configmaps:
            raise ApiException(status=404, reason="Not Found")
        return SimpleNamespace(data=self.configmaps[namespace, name])

    def list_node(self, **_: Any) -> Any:
        cond = SimpleNamespace(type="Ready", status=self.node_ready)
        node = SimpleNamespace(metadata=SimpleNamespace(name="node-1"), status=SimpleNamespace(conditions=[cond]))
        return SimpleNamespace(items=[node])

    def patch_namespaced_pod(self, name: str, namespace: str, body: dict[str, Any], **_: Any) -> None:
        self.annotations.append(body["metadata"]["annotations"])

    def patch_namespaced_pod_status(self, name: str, namespace: str, body: dict[str, Any], **_: Any) -> None:
        self.conditions.append(body["status"]["conditions"])


def _pod(**changes: Any) -> PodInfo:
    fields: dict[str, Any] = {
        "uid": UID,
        "namespace": "aideon-backend",
        "name": "api-gateway-0",
        "service": "api-gateway",
        "phase": "Running",
        "deletion_at": None,
        "ready": None,
        "node": "node-1",
    }
    fields.update(changes)
    return PodInfo(**fields)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[tuple[PodRuntime, RecordingApi]]:
    api = RecordingApi()
    rt = PodRuntime(api, tmp_path, standin_args=["--latency-scale", "0"])  # type: ignore[arg-type]
    rt.logs.mkdir(parents=True)
    yield rt, api
    rt.stop()


def _backends(rt: PodRuntime) -> list[tuple[str, int]] | None:
    return rt.reconcile().get("api-gateway") or None


def test_a_running_pod_gets_a_ready_process_then_loses_it_when_deleted(
    runtime: tuple[PodRuntime, RecordingApi],
) -> None:
    rt, api = runtime
    rt.watcher.pods[UID] = _pod()
    addrs = wait_for("the stand-in to be routable", lambda: _backends(rt), timeout=60, interval=0.2)
    inst = rt.instances[UID]
    assert addrs == [("127.0.0.1", inst.port)]
    assert api.annotations == [{PORT_ANNOTATION: str(inst.port)}]
    assert [c["status"] for c in api.conditions[-1]] == ["True", "True"]
    assert rt.snapshot()[0]["pod"] == "api-gateway-0"

    proc = inst.proc
    assert proc is not None
    rt.watcher.pods[UID] = _pod(deletion_at=time.time(), ready=True)
    assert rt.reconcile() == {}  # out of the proxy at once
    wait_for("the process to end", lambda: (not rt.reconcile() and not rt.instances) or None, timeout=30, interval=0.2)
    assert proc.poll() is not None
    assert UID not in rt.watcher.pods  # a terminating pod without a process is forgotten


def test_an_exited_process_is_restarted_and_a_not_ready_node_takes_it_out(
    runtime: tuple[PodRuntime, RecordingApi],
) -> None:
    rt, api = runtime
    rt.watcher.pods[UID] = _pod()
    wait_for("the stand-in to be routable", lambda: _backends(rt), timeout=60, interval=0.2)
    inst = rt.instances[UID]
    assert inst.proc is not None
    inst.proc.kill()
    inst.proc.wait()
    assert _backends(rt) is None
    wait_for("the restarted stand-in to be routable", lambda: _backends(rt), timeout=60, interval=0.2)
    assert inst.restarts == 1

    api.node_ready = "False"
    rt._nodes_at = 0.0  # the next tick reads the nodes again
    assert _backends(rt) is None
    assert inst.alive  # a partitioned node keeps its containers running


CONFIGURED = ContainerEnv((ConfigMapSource("aideon-config-abc"),), (EnvEntry("SERVICE_NAME", value="api-gateway"),))


def test_the_process_gets_its_pods_configmap_and_waits_while_it_is_missing(
    runtime: tuple[PodRuntime, RecordingApi],
) -> None:
    rt, api = runtime
    rt.watcher.pods[UID] = _pod(env=CONFIGURED)
    assert _backends(rt) is None
    assert rt.instances == {}  # CreateContainerConfigError: no process without its ConfigMap
    assert rt.waiting_for_config == {UID: "configmap 'aideon-config-abc' not found"}

    api.configmaps["aideon-backend", "aideon-config-abc"] = {
        "ENVIRONMENT": "staging", "LOG_LEVEL": "debug", "FEATURE_FLAGS": "experimental-models"}
    addrs = wait_for("the configured stand-in to be routable", lambda: _backends(rt), timeout=60, interval=0.2)
    assert rt.waiting_for_config == {}
    state = standin_state(addrs[0][1])
    assert (state["environment"], state["log_level"], state["feature_flags"]) == (
        "staging", "debug", ["experimental-models"])
    assert rt.instances[UID].env["SERVICE_NAME"] == "api-gateway"


def test_a_wrong_value_in_the_configmap_keeps_the_pod_from_turning_ready(
    runtime: tuple[PodRuntime, RecordingApi],
) -> None:
    rt, api = runtime
    api.configmaps["aideon-backend", "aideon-config-abc"] = {
        "ENVIRONMENT": "staging", "LOG_LEVEL": "verbose", "FEATURE_FLAGS": ""}
    rt.watcher.pods[UID] = _pod(env=CONFIGURED)
    rt.reconcile()
    inst = rt.instances[UID]
    refusal = "standin: the pod's aideon-config: LOG_LEVEL: 'verbose' is not one of"

    def refused_after_a_restart() -> bool | None:
        rt.reconcile()
        return (inst.restarts >= 1 and refusal in inst.log_path.read_text(encoding="utf-8")) or None

    wait_for("the stand-in to refuse its configuration, again after a restart", refused_after_a_restart,
             timeout=60, interval=0.2)
    assert _backends(rt) is None
    assert not inst.ready
