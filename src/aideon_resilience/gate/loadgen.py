"""The in-cluster load generator (`manifests/loadgen/`) driven by the gate against a real cluster.

The gate renders the load generator's objects for the environment's gate.yaml `load` block: the
workers Deployment at the plan's worker count with requests derived from the measured capacity
(`core/plan/capacity.json`), the master told to expect every worker, to start on its own once they
joined (`--autostart`) and to run the shape with the gate.yaml figures. Before anything is applied
an undo step (`scale_to_zero`, `chaos.scale`) is written into the run directory; the gate then
applies the objects, waits until the master sees every worker, and at the end (or on an
interrupt or a failure) stops the test, copies the master's windowed statistics into the run
directory and scales master and workers to zero. A gate killed outright leaves the step pending:
`aideon-resilience rollback RUN_DIR` scales them down.

Everything that talks to the cluster goes through `LoadgenApi`; `KubectlLoadgenApi` is the real
one (kubectl against the allow-listed context), tests give a fake one.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aideon_resilience.adapters.kube.apply import apply_objects, kubectl
from aideon_resilience.adapters.kustomize import KubeObject
from aideon_resilience.chaos import undo
from aideon_resilience.chaos.scale import SCALE_TO_ZERO, scale_args
from aideon_resilience.core.config.gate import LoadConfig, shape_environment
from aideon_resilience.core.plan.capacity import WorkerCapacity
from aideon_resilience.errors import InfrastructureError
from aideon_resilience.gate.options import Progress

NAMESPACE = "aideon-loadgen"
MASTER = "aideon-locust-master"
WORKERS = "aideon-locust-worker"
CONFIGMAP = "aideon-locust"
WINDOWS_PATH = "/data/windows.jsonl"
WINDOW_SECONDS = 5
STATUS_PATH = f"/api/v1/namespaces/{NAMESPACE}/services/{MASTER}:web/proxy/stats/requests"
STOP_PATH = f"/api/v1/namespaces/{NAMESPACE}/services/{MASTER}:web/proxy/stop"
MEMORY_STEP_MIB = 64
MEMORY_LIMIT_EXTRA_MIB = 256


def worker_resources(capacity: WorkerCapacity) -> dict[str, dict[str, str]]:
    """Requests and limits of one worker: one core, the memory of its measured users, rounded up."""
    needed = capacity.worker_base_memory_mib + capacity.users_per_worker * capacity.memory_per_user_kib / 1024
    request = math.ceil(needed / MEMORY_STEP_MIB) * MEMORY_STEP_MIB
    cpu = f"{capacity.worker_cpu_millis}m"
    return {"requests": {"cpu": cpu, "memory": f"{request}Mi"},
            "limits": {"cpu": cpu, "memory": f"{request + MEMORY_LIMIT_EXTRA_MIB}Mi"}}


def _find(objects: list[KubeObject], kind: str, name: str) -> KubeObject:
    for obj in objects:
        if obj.get("kind") == kind and obj.get("metadata", {}).get("name") == name:
            return obj
    raise InfrastructureError(f"manifests/loadgen: no {kind} {name}")


def _set_args(args: list[str], values: dict[str, str], flags: tuple[str, ...] = ()) -> list[str]:
    """`--name=value` arguments replaced or added; bare flags added once."""
    kept = [a for a in args if a.split("=", 1)[0] not in values and a not in flags]
    return kept + [f"{k}={v}" for k, v in values.items()] + list(flags)


def _set_env(env: list[dict[str, Any]], values: dict[str, str]) -> list[dict[str, Any]]:
    kept = [e for e in env if e.get("name") not in values]
    return kept + [{"name": k, "value": v} for k, v in sorted(values.items())]


def render(objects: list[KubeObject], load: LoadConfig, capacity: WorkerCapacity, env: str,
           run_seconds: int) -> list[KubeObject]:
    """The load generator's objects for this gate.yaml load (the input is left unchanged)."""
    out = copy.deepcopy(objects)
    workers = max(1, load.worker_count)
    config = _find(out, "ConfigMap", CONFIGMAP)
    config["data"] = {**config.get("data", {}), "environment": env, "shape": load.shape}
    master = _find(out, "Deployment", MASTER)
    mc = master["spec"]["template"]["spec"]["containers"][0]
    mc["args"] = _set_args(mc.get("args", []), {
        "--expect-workers": str(workers),
        "--users": str(load.users),
        "--spawn-rate": f"{load.spawn_rate:g}",
        "--run-time": f"{max(1, run_seconds)}s",
        "--windows-file": WINDOWS_PATH,
        "--window-seconds": str(WINDOW_SECONDS),
    }, flags=("--autostart",))
    mc["env"] = _set_env(mc.get("env", []), shape_environment(load, run_seconds))
    worker = _find(out, "Deployment", WORKERS)
    worker["spec"]["replicas"] = workers
    wc = worker["spec"]["template"]["spec"]["containers"][0]
    wc["resources"] = worker_resources(capacity)
    return out


class LoadgenApi(Protocol):
    """What the gate does to the load generator in the cluster."""

    def apply(self, objects: list[KubeObject]) -> None: ...

    def scale(self, deployment: str, replicas: int) -> None: ...

    def status(self) -> dict[str, Any] | None:
        """The master's `/stats/requests` (state, user_count, worker_count), None while it does not answer."""
        ...

    def stop_test(self) -> None: ...

    def read_windows(self) -> str: ...


class KubectlLoadgenApi:
    """The load generator through kubectl on the allow-listed context."""

    def __init__(self, kubeconfig: Path | None, context: str | None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context

    def _kubectl(self, args: list[str], timeout: float = 60, stdin: str | None = None) -> str:
        proc = kubectl(args, self.kubeconfig, self.context, stdin=stdin, timeout=timeout)
        if proc.returncode != 0:
            raise InfrastructureError(f"kubectl {' '.join(args[:3])}: {proc.stderr.strip()[:300]}")
        return proc.stdout

    def apply(self, objects: list[KubeObject]) -> None:
        apply_objects(objects, self.kubeconfig, self.context, source="manifests/loadgen")

    def scale(self, deployment: str, replicas: int) -> None:
        self._kubectl(scale_args(NAMESPACE, deployment, replicas))

    def status(self) -> dict[str, Any] | None:
        proc = kubectl(["get", "--raw", STATUS_PATH], self.kubeconfig, self.context, timeout=30)
        if proc.returncode != 0:
            return None
        try:
            data = json.loads(proc.stdout)
        except json.JSONDecodeError:
            return None
        return data if isinstance(data, dict) else None

    def stop_test(self) -> None:
        self._kubectl(["create", "--raw", STOP_PATH, "-f", "-"], stdin="")

    def read_windows(self) -> str:
        return self._kubectl(["-n", NAMESPACE, "exec", f"deployment/{MASTER}", "--", "cat", WINDOWS_PATH],
                             timeout=120)


@dataclass
class ClusterLoad:
    """A running in-cluster load: what the gate stops at the end."""

    api: LoadgenApi
    windows_file: Path
    log: Path
    step: undo.Step
    workers: int
    notes: list[str] = field(default_factory=list)
    stopped: bool = False
    users: int = 0
    warmup_s: float = 0.0
    env: dict[str, str] = field(default_factory=dict)
    modelled: bool = False

    def running(self) -> bool:
        status = self.api.status()
        return status is not None and status.get("state") not in ("stopped", "stopping")

    def stop(self, grace: float = 10) -> int:
        """Stop the test, collect the master's windows, scale master and workers to zero (once)."""
        if self.stopped:
            return 0
        self.stopped = True
        problems: list[str] = []
        try:
            self.api.stop_test()
            time.sleep(grace)  # the master writes the windows still within its grace
            self.windows_file.write_text(self.api.read_windows(), encoding="utf-8")
        except InfrastructureError as exc:
            problems.append(f"collecting the windows: {exc}")
        for name in (WORKERS, MASTER):
            try:
                self.api.scale(name, 0)
            except InfrastructureError as exc:
                problems.append(f"scaling {name} to zero: {exc}")
        if not any("scaling" in p for p in problems):
            undo.mark_done(self.step)
        with self.log.open("a", encoding="utf-8") as fh:
            for line in problems:
                fh.write(line + "\n")
        self.notes += problems
        return 1 if problems else 0


def wait_for_workers(api: LoadgenApi, workers: int, timeout: float, progress: Progress,
                     poll_s: float = 5.0, clock: Any = time) -> dict[str, Any]:
    """Until the master sees every worker (its shape then starts on its own)."""
    deadline = clock.monotonic() + timeout
    seen = -1
    while True:
        status = api.status()
        count = int(status.get("worker_count", 0)) if status else 0
        if count != seen:
            progress(f"load: the in-cluster master sees {count} of {workers} workers")
            seen = count
        if status is not None and count >= workers:
            return status
        if clock.monotonic() >= deadline:
            raise InfrastructureError(
                f"the in-cluster Locust master saw {count} of {workers} workers within {timeout:.0f}s"
            )
        clock.sleep(poll_s)


def start_in_cluster(api: LoadgenApi, objects: list[KubeObject], load: LoadConfig, capacity: WorkerCapacity,
                     env: str, run_seconds: int, run_dir: Path, windows_file: Path, progress: Progress,
                     *, kubeconfig: Path | None, context: str, join_timeout: float = 900,
                     poll_s: float = 5.0, clock: Any = time) -> ClusterLoad:
    """Apply the load generator with the plan's workers and wait for them; scaled to zero on failure."""
    rendered = render(objects, load, capacity, env, run_seconds)
    workers = max(1, load.worker_count)
    log = undo.UndoLog(run_dir / "undo" / "loadgen")
    step = log.record(SCALE_TO_ZERO, {
        "namespace": NAMESPACE, "deployments": [WORKERS, MASTER],
        "kubeconfig": None if kubeconfig is None else str(kubeconfig), "context": context,
    }, f"scale the in-cluster load generator ({NAMESPACE}) to zero")
    run = ClusterLoad(api, windows_file, run_dir / "locust.log", step, workers)
    try:
        progress(f"load: applying the in-cluster load generator with {workers} workers")
        api.apply(rendered)
        wait_for_workers(api, workers, join_timeout, progress, poll_s, clock)
    except BaseException:
        run.stop(grace=0)
        raise
    return run
