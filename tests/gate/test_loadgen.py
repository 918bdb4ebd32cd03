"""The in-cluster load generator at the seam: the objects and commands the gate produces for staging
and production, the worker wait, and scaling to zero at the end, on failure, on interrupt and by rollback."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aideon_resilience.chaos import rollback, scale, undo
from aideon_resilience.core.config.gate import load_gate_config
from aideon_resilience.core.plan.capacity import load_capacity, workers_needed
from aideon_resilience.errors import InfrastructureError
from aideon_resilience.gate import loadgen
from aideon_resilience.gate.targets import LoadSpec, RemoteTarget
from aideon_resilience.settings import Settings
from tests.conftest import REPO

MANIFESTS = REPO / "manifests"


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not on PATH")
    from aideon_resilience.adapters.kustomize import build

    return build(MANIFESTS / "loadgen")


class FakeApi:
    """Records what the gate does; the master sees one more worker per status call."""

    def __init__(self, joins: int = 1000, interrupt: bool = False) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.applied: list[dict[str, Any]] = []
        self.workers = 0
        self.joins = joins
        self.interrupt = interrupt
        self.undo_dir: Path | None = None
        self.pending_at_apply: list[str] = []

    def apply(self, objects: list[dict[str, Any]]) -> None:
        assert self.undo_dir is not None
        self.pending_at_apply = [s.kind for s in undo.pending_steps(self.undo_dir)]
        self.applied = objects
        self.calls.append(("apply", len(objects)))

    def scale(self, deployment: str, replicas: int) -> None:
        self.calls.append(("scale", (deployment, replicas)))

    def status(self) -> dict[str, Any] | None:
        if self.interrupt:
            raise KeyboardInterrupt
        self.workers = min(self.workers + self.joins, 10_000)
        self.calls.append(("status", self.workers))
        return {"state": "running", "worker_count": self.workers, "user_count": 0}

    def stop_test(self) -> None:
        self.calls.append(("stop_test", None))

    def read_windows(self) -> str:
        self.calls.append(("read_windows", None))
        return '{"window": 1}\n'


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def _by(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def _container(objs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return dict(_by(objs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0])


@pytest.mark.parametrize(("env", "workers"), [("staging", 2), ("production", 77)])
def test_rendered_objects_carry_the_plans_workers_and_the_gate_yaml_shape(
    objects: list[dict[str, Any]], env: str, workers: int
) -> None:
    import kubernetes_validate

    cap = load_capacity()
    load = load_gate_config(MANIFESTS / "environments" / env).load
    assert workers == workers_needed(load.users, cap) == load.worker_count
    out = loadgen.render(objects, load, cap, env, 3780)
    assert _by(objects, "Deployment", loadgen.WORKERS)["spec"]["replicas"] == 2  # the input is left alone
    assert _by(out, "Deployment", loadgen.WORKERS)["spec"]["replicas"] == workers
    worker = _container(out, loadgen.WORKERS)
    assert worker["resources"] == loadgen.worker_resources(cap)
    assert worker["resources"]["requests"] == {"cpu": "1000m", "memory": "384Mi"}  # 64 + 13,000 x 22.7 KiB
    master = _container(out, loadgen.MASTER)
    args = master["args"]
    assert f"--expect-workers={workers}" in args and "--autostart" in args
    assert f"--users={load.users}" in args and f"--spawn-rate={load.spawn_rate:g}" in args
    assert "--run-time=3780s" in args and f"--windows-file={loadgen.WINDOWS_PATH}" in args
    assert sum(a.startswith("--expect-workers") for a in args) == 1
    env_vars = {e["name"]: e.get("value") for e in master["env"]}
    assert env_vars["AIDEON_SHAPE"] == "ramp" and env_vars["AIDEON_TARGET_USERS"] == str(load.users)
    assert env_vars["AIDEON_SPAWN_RATE"] == f"{load.spawn_rate:g}" and env_vars["AIDEON_SHAPE_SECONDS"] == "3780"
    assert _by(out, "ConfigMap", loadgen.CONFIGMAP)["data"]["environment"] == env
    for obj in out:
        kubernetes_validate.validate(obj, "1.34.0", strict=True)


def test_memory_requests_follow_the_capacity() -> None:
    cap = load_capacity()
    res = loadgen.worker_resources(cap)
    needed = cap.worker_base_memory_mib + cap.users_per_worker * cap.memory_per_user_kib / 1024
    request = float(res["requests"]["memory"].removesuffix("Mi"))
    assert needed <= request <= 1.5 * needed
    assert float(res["limits"]["memory"].removesuffix("Mi")) > request


@pytest.mark.parametrize("env", ["staging", "production"])
def test_the_remote_target_applies_waits_and_scales_to_zero(
    objects: list[dict[str, Any]], tmp_path: Path, env: str
) -> None:
    config = load_gate_config(MANIFESTS / "environments" / env)
    api = FakeApi(joins=config.load.worker_count)  # all join before the first poll: no sleeping in a test
    api.undo_dir = tmp_path / "undo"
    target = RemoteTarget(env, "ctx", "http://127.0.0.1:8080", None, Settings({}), manifests=MANIFESTS,
                          loadgen_api=api)
    spec = LoadSpec(config.load, REPO / "loadtests" / "gateway.py", "http://127.0.0.1:8080", tmp_path,
                    tmp_path / "locust-windows.jsonl", 3780, env)
    lines: list[str] = []
    run = target.start_load(spec, lines.append)
    assert api.pending_at_apply == ["scale_to_zero"]  # the undo step is on disk before anything is applied
    assert _by(api.applied, "Deployment", loadgen.WORKERS)["spec"]["replicas"] == config.load.worker_count
    assert api.workers >= config.load.worker_count
    n = config.load.worker_count
    assert lines == [f"load: applying the in-cluster load generator with {n} workers",
                     f"load: the in-cluster master sees {n} of {n} workers"]
    assert run.stop(grace=0) == 0
    assert (tmp_path / "locust-windows.jsonl").read_text() == '{"window": 1}\n'
    assert [c for c in api.calls if c[0] in ("stop_test", "read_windows", "scale")] == [
        ("stop_test", None), ("read_windows", None),
        ("scale", (loadgen.WORKERS, 0)), ("scale", (loadgen.MASTER, 0))]
    assert undo.pending_steps(tmp_path / "undo") == []
    assert run.stop(grace=0) == 0 and sum(c[0] == "scale" for c in api.calls) == 2  # once only


def _start(objects: list[dict[str, Any]], tmp_path: Path, api: FakeApi, timeout: float = 60) -> loadgen.ClusterLoad:
    api.undo_dir = tmp_path / "undo"
    load = load_gate_config(MANIFESTS / "environments" / "staging").load
    return loadgen.start_in_cluster(api, objects, load, load_capacity(), "staging", 600, tmp_path,
                                    tmp_path / "w.jsonl", lambda _: None, kubeconfig=tmp_path / "kc",
                                    context="ctx", join_timeout=timeout, poll_s=5, clock=Clock())


def test_workers_that_never_join_fail_the_start_and_are_scaled_to_zero(
    objects: list[dict[str, Any]], tmp_path: Path
) -> None:
    api = FakeApi(joins=0)
    with pytest.raises(InfrastructureError, match="saw 0 of 2 workers within 60s"):
        _start(objects, tmp_path, api)
    assert ("scale", (loadgen.WORKERS, 0)) in api.calls and ("scale", (loadgen.MASTER, 0)) in api.calls
    assert undo.pending_steps(tmp_path / "undo") == []


def test_an_interrupt_while_waiting_scales_to_zero(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    api = FakeApi(interrupt=True)
    with pytest.raises(KeyboardInterrupt):
        _start(objects, tmp_path, api)
    assert [c for c in api.calls if c[0] == "scale"] == [("scale", (loadgen.WORKERS, 0)),
                                                         ("scale", (loadgen.MASTER, 0))]


def test_a_killed_gate_leaves_a_step_rollback_replays(
    objects: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _start(objects, tmp_path, FakeApi())  # started, and never stopped: the gate was killed
    (step,) = undo.pending_steps(tmp_path)
    assert step.kind == "scale_to_zero"
    seen: list[list[str]] = []

    def fake_kubectl(args: list[str], kubeconfig: Path | None, context: str | None,
                     **_: Any) -> subprocess.CompletedProcess[str]:
        seen.append([str(kubeconfig), str(context), *args])
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(scale, "kubectl", fake_kubectl)
    result = rollback.replay(tmp_path)
    assert result.failed == [] and len(result.undone) == 1
    kc = str(tmp_path / "kc")
    assert seen == [
        [kc, "ctx", "-n", "aideon-loadgen", "scale", "deployment/aideon-locust-worker", "--replicas=0"],
        [kc, "ctx", "-n", "aideon-loadgen", "scale", "deployment/aideon-locust-master", "--replicas=0"],
    ]
    assert undo.pending_steps(tmp_path) == []


def test_kubectl_api_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def fake_kubectl(args: list[str], kubeconfig: Path | None, context: str | None,
                     **_: Any) -> subprocess.CompletedProcess[str]:
        seen.append(args)
        out = '{"state": "running", "worker_count": 3}' if "--raw" in args and "get" in args else ""
        return subprocess.CompletedProcess(args, 0, out, "")

    monkeypatch.setattr(loadgen, "kubectl", fake_kubectl)
    api = loadgen.KubectlLoadgenApi(tmp_path / "kc", "ctx")
    assert api.status() == {"state": "running", "worker_count": 3}
    api.stop_test()
    api.read_windows()
    api.scale(loadgen.WORKERS, 0)
    assert seen == [
        ["get", "--raw", "/api/v1/namespaces/aideon-loadgen/services/aideon-locust-master:web/proxy/stats/requests"],
        ["create", "--raw", "/api/v1/namespaces/aideon-loadgen/services/aideon-locust-master:web/proxy/stop",
         "-f", "-"],
        ["-n", "aideon-loadgen", "exec", "deployment/aideon-locust-master", "--", "cat", "/data/windows.jsonl"],
        ["-n", "aideon-loadgen", "scale", "deployment/aideon-locust-worker", "--replicas=0"],
    ]
