"""Bad input across every command: one line on stderr naming the file and field, exit 2, nothing changed.

Each case builds its inputs in a fresh directory, runs the CLI in-process and checks that

- the exit code is 2 and stderr is exactly one line, with no traceback, naming what the case
  says (the file and the field or option at fault);
- nothing under the case's directory changed (no run directory, no state, no file rewritten);
- nothing that changes a cluster or starts a process was reached: bringing a cluster up,
  applying manifests, starting the data plane, a stand-in, Locust or a chaos run, or the gate's
  run after its checks. Those are replaced by a tripwire for the test.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aideon_resilience.cli.main import main
from tests.conftest import REPO
from tests.kubeconfigs import unused_port, write_kubeconfig

BINARY = bytes(range(256)) * 4


class Tripwire(BaseException):
    """Something that changes a cluster or starts a process was reached (never caught by the CLI)."""


@dataclass
class Workspace:
    root: Path
    monkeypatch: pytest.MonkeyPatch
    sockets: list[socket.socket] = field(default_factory=list)

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def env(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)

    def manifests(self, *envs: str, full: bool = False) -> Path:
        """A copy of the manifests (the environments' gate inputs only, unless `full`)."""
        root = self.root / "manifests"
        if full:
            shutil.copytree(REPO / "manifests", root)
            return root
        for env in envs or ("local", "staging"):
            src = REPO / "manifests" / "environments" / env
            dst = root / "environments" / env
            dst.mkdir(parents=True)
            for f in src.iterdir():
                if f.suffix == ".yaml" and f.name != "kustomization.yaml":
                    shutil.copyfile(f, dst / f.name)
        shutil.copytree(REPO / "manifests" / "loadgen", root / "loadgen")
        return root

    def chaos(self) -> Path:
        """A copy of the experiments."""
        dst = self.root / "chaos"
        shutil.copytree(REPO / "chaos", dst)
        return dst

    def taken_port(self) -> int:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        self.sockets.append(s)
        return int(s.getsockname()[1])


Setup = Callable[[Workspace], list[str]]


@dataclass(frozen=True)
class Case:
    id: str
    setup: Setup
    names: tuple[str, ...]  # what the one line must name: the file, the field or option


CASES: list[Case] = []


def case(id: str, *names: str) -> Callable[[Setup], Setup]:
    def register(setup: Setup) -> Setup:
        CASES.append(Case(id, setup, names))
        return setup

    return register


# --- lint ------------------------------------------------------------------------------------


@case("lint-binary-file", "bin.yaml", "not UTF-8 text")
def _(w: Workspace) -> list[str]:
    return ["lint", str(w.write("bin.yaml", BINARY))]


@case("lint-empty-file", "empty.yaml", "no Kubernetes object")
def _(w: Workspace) -> list[str]:
    return ["lint", str(w.write("empty.yaml", ""))]


@case("lint-list-not-object", "list.yaml", "document 1", "not a mapping")
def _(w: Workspace) -> list[str]:
    return ["lint", str(w.write("list.yaml", "- a\n- b\n"))]


@case("lint-invalid-yaml", "broken.yaml", "invalid YAML at line")
def _(w: Workspace) -> list[str]:
    return ["lint", str(w.write("broken.yaml", "kind: Deployment\nmetadata: {name: [\n"))]


@case("lint-missing-path", "absent.yaml", "no such file")
def _(w: Workspace) -> list[str]:
    return ["lint", str(w.root / "absent.yaml")]


@case("lint-directory-without-kustomization", "plain", "no kustomization.yaml")
def _(w: Workspace) -> list[str]:
    (w.root / "plain").mkdir()
    return ["lint", str(w.root / "plain")]


@case("lint-object-without-kind", "nokind.yaml", "kind")
def _(w: Workspace) -> list[str]:
    return ["lint", str(w.write("nokind.yaml", "apiVersion: v1\nmetadata: {name: x}\n"))]


@case("lint-unknown-kind", "odd.yaml", "kind", "Gizmo")
def _(w: Workspace) -> list[str]:
    return ["lint", str(w.write("odd.yaml", "apiVersion: v1\nkind: Gizmo\nmetadata: {name: x}\n"))]


@case("lint-nodes-zero", "--nodes")
def _(w: Workspace) -> list[str]:
    return ["lint", str(w.write("ok.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")), "--nodes", "0"]


@case("lint-nodes-negative", "--nodes")
def _(w: Workspace) -> list[str]:
    return ["lint", str(w.write("ok.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")), "--nodes", "-4"]


@case("lint-format-unknown", "--format")
def _(w: Workspace) -> list[str]:
    return ["lint", str(w.write("ok.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")),
            "--format", "xml"]


def _linted_with_shape(w: Workspace, shape: str | bytes) -> list[str]:
    w.write("env/cluster-shape.yaml", shape)
    return ["lint", str(w.write("env/app.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"))]


@case("lint-shape-binary", "cluster-shape.yaml", "not UTF-8 text")
def _(w: Workspace) -> list[str]:
    return _linted_with_shape(w, BINARY)


@case("lint-shape-list", "cluster-shape.yaml", "expected a mapping")
def _(w: Workspace) -> list[str]:
    return _linted_with_shape(w, "- 6\n")


@case("lint-shape-negative-nodes", "cluster-shape.yaml", "nodes:", "greater than 0")
def _(w: Workspace) -> list[str]:
    return _linted_with_shape(w, "environment: x\nnodes: -3\nzones: [a]\n"
                                 "nodeAllocatable: {cpuMillis: 1, memoryMiB: 1}\n")


@case("lint-shape-missing-zones", "cluster-shape.yaml", "zones")
def _(w: Workspace) -> list[str]:
    return _linted_with_shape(w, "environment: x\nnodes: 3\nnodeAllocatable: {cpuMillis: 1, memoryMiB: 1}\n")


@case("lint-binary-kustomization", "kustomization.yaml")
def _(w: Workspace) -> list[str]:
    w.write("kdir/kustomization.yaml", BINARY)
    return ["lint", str(w.root / "kdir")]


# --- plan ------------------------------------------------------------------------------------


@case("plan-users-zero", "--users")
def _(w: Workspace) -> list[str]:
    return ["plan", "--users", "0", "--manifests", str(w.manifests("production"))]


@case("plan-users-negative", "--users")
def _(w: Workspace) -> list[str]:
    return ["plan", "--users", "-100", "--manifests", str(w.manifests("production"))]


@case("plan-users-not-a-number", "--users")
def _(w: Workspace) -> list[str]:
    return ["plan", "--users", "many"]


@case("plan-format-unknown", "--format")
def _(w: Workspace) -> list[str]:
    return ["plan", "--users", "10", "--format", "yaml"]


@case("plan-unknown-environment", "nowhere", "environment")
def _(w: Workspace) -> list[str]:
    return ["plan", "--users", "10", "--env", "nowhere", "--manifests", str(w.manifests("production"))]


def _plan_with_capacity(w: Workspace, content: str | bytes) -> list[str]:
    return ["plan", "--users", "10", "--manifests", str(w.manifests("production")),
            "--capacity", str(w.write("capacity.json", content))]


@case("plan-capacity-binary", "capacity.json", "not UTF-8 text")
def _(w: Workspace) -> list[str]:
    return _plan_with_capacity(w, BINARY)


@case("plan-capacity-empty", "capacity.json", "invalid JSON")
def _(w: Workspace) -> list[str]:
    return _plan_with_capacity(w, "")


@case("plan-capacity-list", "capacity.json", "expected an object")
def _(w: Workspace) -> list[str]:
    return _plan_with_capacity(w, "[]")


@case("plan-capacity-invalid-json", "capacity.json", "invalid JSON (line 2)")
def _(w: Workspace) -> list[str]:
    return _plan_with_capacity(w, '{"worker":\n  {,}}')


@case("plan-capacity-negative", "capacity.json", "worker.users_per_worker")
def _(w: Workspace) -> list[str]:
    return _plan_with_capacity(w, json.dumps({"worker": {"users_per_worker": -5, "rps_per_worker": 1,
                                                         "memory_per_user_kib": 1, "worker_base_memory_mib": 1}}))


@case("plan-capacity-missing", "absent.json", "no such capacity file")
def _(w: Workspace) -> list[str]:
    return ["plan", "--users", "10", "--manifests", str(w.manifests("production")),
            "--capacity", str(w.root / "absent.json")]


@case("plan-shape-binary", "cluster-shape.yaml", "not UTF-8 text")
def _(w: Workspace) -> list[str]:
    m = w.manifests("production")
    (m / "environments" / "production" / "cluster-shape.yaml").write_bytes(BINARY)
    return ["plan", "--users", "10", "--manifests", str(m)]


@case("plan-shape-zero-cpu", "cluster-shape.yaml", "nodeAllocatable.cpuMillis")
def _(w: Workspace) -> list[str]:
    m = w.manifests("production")
    shape = m / "environments" / "production" / "cluster-shape.yaml"
    shape.write_text(shape.read_text().replace("cpuMillis: 16000", "cpuMillis: 0"))
    assert "cpuMillis: 0" in shape.read_text()
    return ["plan", "--users", "10", "--manifests", str(m)]


@case("plan-sizing-malformed", "sizing.yaml")
def _(w: Workspace) -> list[str]:
    m = w.manifests(full=True)
    (m / "environments" / "staging" / "sizing.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nspec: [\n")
    return ["plan", "--users", "10", "--env", "staging", "--manifests", str(m)]


@case("plan-sizing-binary", "sizing.yaml")
def _(w: Workspace) -> list[str]:
    m = w.manifests(full=True)
    (m / "environments" / "staging" / "sizing.yaml").write_bytes(BINARY)
    return ["plan", "--users", "10", "--env", "staging", "--manifests", str(m)]


# --- report ----------------------------------------------------------------------------------


def _run_dir(w: Workspace) -> Path:
    from tests.core.runfactory import healthy_events, healthy_windows, write_run_dir

    return write_run_dir(w.root / "run", healthy_windows(), healthy_events())


@case("report-missing-run-dir", "absent", "not a run directory")
def _(w: Workspace) -> list[str]:
    return ["report", str(w.root / "absent")]


@case("report-run-dir-is-a-file", "afile", "not a run directory")
def _(w: Workspace) -> list[str]:
    return ["report", str(w.write("afile", "x"))]


@case("report-run-json-binary", "run.json", "not UTF-8 text")
def _(w: Workspace) -> list[str]:
    d = _run_dir(w)
    (d / "run.json").write_bytes(BINARY)
    return ["report", str(d)]


@case("report-run-json-list", "run.json", "expected a JSON object")
def _(w: Workspace) -> list[str]:
    d = _run_dir(w)
    (d / "run.json").write_text("[]")
    return ["report", str(d)]


@case("report-run-json-empty", "run.json", "invalid JSON")
def _(w: Workspace) -> list[str]:
    d = _run_dir(w)
    (d / "run.json").write_text("")
    return ["report", str(d)]


@case("report-run-json-missing-field", "run.json", "started")
def _(w: Workspace) -> list[str]:
    d = _run_dir(w)
    meta = json.loads((d / "run.json").read_text())
    del meta["started"]
    (d / "run.json").write_text(json.dumps(meta))
    return ["report", str(d)]


@case("report-slo-unknown-family", "slo.yaml", "slos[0]", "family")
def _(w: Workspace) -> list[str]:
    d = _run_dir(w)
    (d / "slo.yaml").write_text("environment: local\nslos:\n  - {id: a, family: magic}\n")
    return ["report", str(d)]


@case("report-slo-option-binary", "slo-bin.yaml", "not UTF-8 text")
def _(w: Workspace) -> list[str]:
    return ["report", str(_run_dir(w)), "--slo", str(w.write("slo-bin.yaml", BINARY))]


@case("report-slo-option-list", "slo-list.yaml", "expected a mapping")
def _(w: Workspace) -> list[str]:
    return ["report", str(_run_dir(w)), "--slo", str(w.write("slo-list.yaml", "- id: a\n"))]


@case("report-slo-option-empty", "slo-empty.yaml", "an empty file")
def _(w: Workspace) -> list[str]:
    return ["report", str(_run_dir(w)), "--slo", str(w.write("slo-empty.yaml", ""))]


@case("report-slo-negative-threshold", "slo-neg.yaml", "slos[0](e).max_error_ratio")
def _(w: Workspace) -> list[str]:
    text = "environment: local\nslos:\n  - {id: e, family: client, max_error_ratio: -0.5}\n"
    return ["report", str(_run_dir(w)), "--slo", str(w.write("slo-neg.yaml", text))]


@case("report-baseline-not-a-run", "base", "no verdict file")
def _(w: Workspace) -> list[str]:
    (w.root / "base").mkdir()
    return ["report", str(_run_dir(w)), "--baseline", str(w.root / "base")]


@case("report-timeline-binary", "timeline.jsonl")
def _(w: Workspace) -> list[str]:
    d = _run_dir(w)
    (d / "timeline.jsonl").write_bytes(BINARY)
    return ["report", str(d)]


@case("report-windows-binary", "locust-windows.jsonl")
def _(w: Workspace) -> list[str]:
    d = _run_dir(w)
    (d / "locust-windows.jsonl").write_bytes(BINARY)
    return ["report", str(d)]


# --- gate ------------------------------------------------------------------------------------


def _gate(w: Workspace, *extra: str, env: str = "local") -> list[str]:
    manifests = w.root / "manifests"
    if not manifests.exists():
        w.manifests()
    chaos = w.root / "chaos"
    if not chaos.exists():
        w.chaos()
    return ["gate", "--env", env, "--manifests", str(manifests), "--chaos-dir", str(chaos),
            "--out", str(w.root / "reports"), "--locustfile", str(REPO / "loadtests" / "gateway.py"), *extra]


def _env_file(w: Workspace, name: str, env: str = "local") -> Path:
    w.manifests()
    return w.root / "manifests" / "environments" / env / name


@case("gate-unknown-environment", "nowhere", "--env")
def _(w: Workspace) -> list[str]:
    return _gate(w, env="nowhere")


@case("gate-gate-yaml-binary", "gate.yaml", "not UTF-8 text")
def _(w: Workspace) -> list[str]:
    _env_file(w, "gate.yaml").write_bytes(BINARY)
    return _gate(w)


@case("gate-gate-yaml-empty", "gate.yaml", "an empty file")
def _(w: Workspace) -> list[str]:
    _env_file(w, "gate.yaml").write_text("")
    return _gate(w)


@case("gate-gate-yaml-list", "gate.yaml", "expected a mapping")
def _(w: Workspace) -> list[str]:
    _env_file(w, "gate.yaml").write_text("- pod-kill\n")
    return _gate(w)


@case("gate-gate-yaml-unknown-field", "gate.yaml", "experimentz")
def _(w: Workspace) -> list[str]:
    _env_file(w, "gate.yaml").write_text("experiments: [pod-kill]\nexperimentz: [x]\n")
    return _gate(w)


@case("gate-gate-yaml-negative-users", "gate.yaml", "load.users")
def _(w: Workspace) -> list[str]:
    _env_file(w, "gate.yaml").write_text("target: local\nexperiments: [pod-kill]\nload: {users: -10}\n")
    return _gate(w)


@case("gate-gate-yaml-negative-timeout", "gate.yaml", "experiment_timeout_seconds")
def _(w: Workspace) -> list[str]:
    _env_file(w, "gate.yaml").write_text("target: local\nexperiments: [pod-kill]\nexperiment_timeout_seconds: -1\n")
    return _gate(w)


@case("gate-slo-binary", "slo.yaml", "not UTF-8 text")
def _(w: Workspace) -> list[str]:
    _env_file(w, "slo.yaml").write_bytes(BINARY)
    return _gate(w)


@case("gate-slo-list", "slo.yaml", "expected a mapping")
def _(w: Workspace) -> list[str]:
    _env_file(w, "slo.yaml").write_text("- client\n")
    return _gate(w)


@case("gate-slo-missing-family", "slo.yaml", "slos[0](x).family")
def _(w: Workspace) -> list[str]:
    _env_file(w, "slo.yaml").write_text("environment: local\nslos:\n  - {id: x, max_error_ratio: 0.1}\n")
    return _gate(w)


@case("gate-shape-binary", "cluster-shape.yaml", "not UTF-8 text")
def _(w: Workspace) -> list[str]:
    _env_file(w, "cluster-shape.yaml").write_bytes(BINARY)
    return _gate(w)


@case("gate-shape-no-zones", "cluster-shape.yaml", "zones")
def _(w: Workspace) -> list[str]:
    _env_file(w, "cluster-shape.yaml").write_text(
        "environment: local\nnodes: 6\nzones: []\nnodeAllocatable: {cpuMillis: 8000, memoryMiB: 32768}\n")
    return _gate(w)


@case("gate-experiment-missing", "gate.yaml", "experiments", "pod-kill")
def _(w: Workspace) -> list[str]:
    argv = _gate(w)
    (w.root / "chaos" / "pod-kill.json").unlink()
    return argv


@case("gate-experiment-list", "pod-kill.json", "expected a Chaos Toolkit experiment")
def _(w: Workspace) -> list[str]:
    argv = _gate(w)
    (w.root / "chaos" / "pod-kill.json").write_text("[]")
    return argv


@case("gate-experiment-binary", "node-drain.json", "not UTF-8 text")
def _(w: Workspace) -> list[str]:
    argv = _gate(w)
    (w.root / "chaos" / "node-drain.json").write_bytes(BINARY)
    return argv


@case("gate-experiment-invalid-json", "node-loss.json", "invalid JSON (line 1)")
def _(w: Workspace) -> list[str]:
    argv = _gate(w)
    (w.root / "chaos" / "node-loss.json").write_text('{"title": ')
    return argv


@case("gate-experiment-empty-object", "pod-kill.json", "method")
def _(w: Workspace) -> list[str]:
    argv = _gate(w)
    (w.root / "chaos" / "pod-kill.json").write_text("{}")
    return argv


def _edit_experiment(w: Workspace, name: str, edit: Callable[[dict[str, object]], None]) -> list[str]:
    argv = _gate(w)
    path = w.root / "chaos" / f"{name}.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return argv


@case("gate-experiment-no-title", "pod-kill.json", "title")
def _(w: Workspace) -> list[str]:
    return _edit_experiment(w, "pod-kill", lambda d: d.pop("title"))


@case("gate-experiment-method-not-a-list", "pod-kill.json", "method", "expected a list")
def _(w: Workspace) -> list[str]:
    return _edit_experiment(w, "pod-kill", lambda d: d.update(method="kill"))


@case("gate-experiment-unknown-function", "node-drain.json", "method[0].provider.func", "drain_nodez")
def _(w: Workspace) -> list[str]:
    return _edit_experiment(w, "node-drain", lambda d: d["method"][0]["provider"].update(func="drain_nodez"))  # type: ignore[index]


@case("gate-experiment-unknown-module", "node-drain.json", "rollbacks[0].provider.module")
def _(w: Workspace) -> list[str]:
    return _edit_experiment(w, "node-drain", lambda d: d["rollbacks"][0]["provider"].update(  # type: ignore[index]
        module="aideon_resilience.chaos.actionz"))


@case("gate-experiment-unknown-argument", "pod-kill.json", "method[0].provider.arguments")
def _(w: Workspace) -> list[str]:
    return _edit_experiment(w, "pod-kill", lambda d: d["method"][0]["provider"]["arguments"].update(  # type: ignore[index]
        blast_radius="all"))


@case("gate-experiment-unknown-probe", "pod-kill.json", "steady-state-hypothesis.probes[0].provider.func")
def _(w: Workspace) -> list[str]:
    return _edit_experiment(w, "pod-kill", lambda d: d["steady-state-hypothesis"]["probes"][0]["provider"].update(  # type: ignore[index]
        func="workload_redy"))


@case("gate-experiment-misspelt-safety-control", "node-drain.json", "controls[0].provider.module")
def _(w: Workspace) -> list[str]:
    return _edit_experiment(w, "node-drain", lambda d: d["controls"][0]["provider"].update(  # type: ignore[index]
        module="aideon_resilience.chaos.controls.safty"))


@case("gate-experiment-without-safety-control", "node-drain.json", "controls", "safety control")
def _(w: Workspace) -> list[str]:
    return _edit_experiment(w, "node-drain", lambda d: d.update(controls=d["controls"][1:]))  # type: ignore[index]


@case("gate-missing-locustfile", "absent.py", "--locustfile")
def _(w: Workspace) -> list[str]:
    return [*_gate(w), "--locustfile", str(w.root / "absent.py")]


@case("gate-locustfile-is-a-directory", "lfdir", "--locustfile")
def _(w: Workspace) -> list[str]:
    (w.root / "lfdir").mkdir()
    return [*_gate(w), "--locustfile", str(w.root / "lfdir")]


@case("gate-gateway-url-not-loopback", "AIDEON_GATEWAY_URL", "loopback")
def _(w: Workspace) -> list[str]:
    w.env("AIDEON_GATEWAY_URL", "http://10.1.2.3:8080")
    return _gate(w)


@case("gate-gateway-url-not-a-url", "AIDEON_GATEWAY_URL", "http")
def _(w: Workspace) -> list[str]:
    w.env("AIDEON_GATEWAY_URL", "gateway:8080")
    return _gate(w)


@case("gate-out-is-a-file", "reports-file", "--out")
def _(w: Workspace) -> list[str]:
    return [*_gate(w), "--out", str(w.write("reports-file", "x"))]


@case("gate-out-under-a-file", "reports-file", "--out")
def _(w: Workspace) -> list[str]:
    w.write("reports-file", "x")
    return [*_gate(w), "--out", str(w.root / "reports-file" / "runs")]


@case("gate-baseline-not-a-run", "nobase", "--baseline")
def _(w: Workspace) -> list[str]:
    (w.root / "nobase").mkdir()
    return [*_gate(w), "--baseline", str(w.root / "nobase")]


@case("gate-local-other-context", "--context")
def _(w: Workspace) -> list[str]:
    return [*_gate(w), "--context", "production"]


@case("gate-experiments-not-in-suite", "gate.yaml", "--experiments")
def _(w: Workspace) -> list[str]:
    return [*_gate(w), "--experiments", "pod-kill,meteor-strike"]


@case("gate-remote-without-context", "--env staging", "--context")
def _(w: Workspace) -> list[str]:
    return _gate(w, env="staging")


@case("gate-remote-context-not-allow-listed", "--context", "AIDEON_CHAOS_ALLOWED_CONTEXTS")
def _(w: Workspace) -> list[str]:
    return [*_gate(w, env="staging"), "--context", "prod-eu"]


def _remote(w: Workspace, kubeconfig: Path) -> list[str]:
    w.env("AIDEON_CHAOS_ALLOWED_CONTEXTS", "stg")
    w.env("AIDEON_GATEWAY_URL", "http://127.0.0.1:18080")
    w.env("KUBECONFIG", str(kubeconfig))
    return [*_gate(w, env="staging"), "--context", "stg"]


@case("gate-unreadable-kubeconfig", "kubeconfig", "unreadable kubeconfig")
def _(w: Workspace) -> list[str]:
    return _remote(w, w.write("kubeconfig", BINARY))


@case("gate-kubeconfig-not-a-kubeconfig", "kubeconfig", "unreadable kubeconfig")
def _(w: Workspace) -> list[str]:
    return _remote(w, w.write("kubeconfig", "- just\n- a list\n"))


@case("gate-kubeconfig-without-the-context", "kubeconfig", "contexts", "'stg'")
def _(w: Workspace) -> list[str]:
    return _remote(w, write_kubeconfig(w.root / "kubeconfig", "http://127.0.0.1:1", "other"))


@case("gate-api-server-unreachable", "kubeconfig", "clusters[c].server", "does not answer")
def _(w: Workspace) -> list[str]:
    return _remote(w, write_kubeconfig(w.root / "kubeconfig", f"http://127.0.0.1:{unused_port()}", "stg"))


@case("gate-environment-number-malformed", "AIDEON_CHAOS_MAX_NODE_SHARE")
def _(w: Workspace) -> list[str]:
    w.env("AIDEON_CHAOS_MAX_NODE_SHARE", "-0.5")
    return _gate(w)


@case("rehearse-users-negative", "rehearsal.yaml", "--users")
def _(w: Workspace) -> list[str]:
    return ["rehearse", "--env", "staging", "--users", "-5", "--manifests", str(w.manifests()),
            "--chaos-dir", str(w.chaos()), "--out", str(w.root / "reports")]


@case("rehearse-rehearsal-yaml-binary", "rehearsal.yaml", "not UTF-8 text")
def _(w: Workspace) -> list[str]:
    _env_file(w, "rehearsal.yaml", "staging").write_bytes(BINARY)
    return ["rehearse", "--env", "staging", "--manifests", str(w.root / "manifests"),
            "--chaos-dir", str(w.chaos()), "--out", str(w.root / "reports")]


# --- rollback --------------------------------------------------------------------------------


@case("rollback-missing-directory", "absent", "no such directory")
def _(w: Workspace) -> list[str]:
    return ["rollback", str(w.root / "absent")]


@case("rollback-directory-is-a-file", "undo-file", "not a directory")
def _(w: Workspace) -> list[str]:
    return ["rollback", str(w.write("undo-file", "x"))]


@case("rollback-binary-step", "1-x.undo.json", "unreadable undo step")
def _(w: Workspace) -> list[str]:
    w.write("undo/run/1-x.undo.json", BINARY)
    return ["rollback", str(w.root / "undo")]


@case("rollback-step-not-an-object", "2-x.undo.json", "unreadable undo step")
def _(w: Workspace) -> list[str]:
    w.write("undo/run/2-x.undo.json", "[]")
    return ["rollback", str(w.root / "undo")]


@case("rollback-step-invalid-json", "3-x.undo.json", "unreadable undo step")
def _(w: Workspace) -> list[str]:
    w.write("undo/run/3-x.undo.json", '{"kind": "uncordon_node", ')
    return ["rollback", str(w.root / "undo")]


@case("rollback-step-unknown-kind", "4-x.undo.json", "kind", "teleport")
def _(w: Workspace) -> list[str]:
    w.write("undo/run/4-x.undo.json", json.dumps({"kind": "teleport", "params": {}}))
    return ["rollback", str(w.root / "undo")]


@case("rollback-step-missing-params", "5-x.undo.json", "params.node")
def _(w: Workspace) -> list[str]:
    w.write("undo/run/5-x.undo.json", json.dumps({"kind": "uncordon_node", "params": {}}))
    return ["rollback", str(w.root / "undo")]


# --- deploy ----------------------------------------------------------------------------------


@case("deploy-unknown-environment", "--env", "nowhere")
def _(w: Workspace) -> list[str]:
    return ["deploy", "--env", "nowhere", "--manifests", str(w.manifests())]


@case("deploy-manifests-is-a-file", "mfile", "--manifests")
def _(w: Workspace) -> list[str]:
    return ["deploy", "--env", "local", "--manifests", str(w.write("mfile", "x"))]


@case("deploy-timeout-negative", "--timeout")
def _(w: Workspace) -> list[str]:
    return ["deploy", "--env", "local", "--manifests", str(REPO / "manifests"), "--timeout", "-5"]


@case("deploy-timeout-zero", "--timeout")
def _(w: Workspace) -> list[str]:
    return ["deploy", "--env", "local", "--manifests", str(REPO / "manifests"), "--timeout", "0"]


@case("deploy-context-with-local", "--context")
def _(w: Workspace) -> list[str]:
    return ["deploy", "--env", "local", "--manifests", str(REPO / "manifests"), "--context", "x"]


@case("deploy-binary-kustomization", "kustomization.yaml")
def _(w: Workspace) -> list[str]:
    w.write("m/environments/local/kustomization.yaml", BINARY)
    return ["deploy", "--env", "local", "--manifests", str(w.root / "m")]


@case("deploy-unreadable-kubeconfig", "kubeconfig", "unreadable kubeconfig")
def _(w: Workspace) -> list[str]:
    w.env("KUBECONFIG", str(w.write("kubeconfig", BINARY)))
    return ["deploy", "--env", "staging", "--manifests", str(REPO / "manifests"), "--context", "stg"]


@case("deploy-api-server-unreachable", "kubeconfig", "does not answer")
def _(w: Workspace) -> list[str]:
    kubeconfig = write_kubeconfig(w.root / "kubeconfig", f"http://127.0.0.1:{unused_port()}", "stg")
    w.env("KUBECONFIG", str(kubeconfig))
    return ["deploy", "--env", "staging", "--manifests", str(REPO / "manifests"), "--context", "stg"]


# --- cluster ---------------------------------------------------------------------------------


@case("cluster-up-nodes-zero", "--nodes")
def _(w: Workspace) -> list[str]:
    return ["cluster", "up", "--nodes", "0"]


@case("cluster-up-nodes-negative", "--nodes")
def _(w: Workspace) -> list[str]:
    return ["cluster", "up", "--nodes", "-6"]


@case("cluster-up-zones-zero", "--zones")
def _(w: Workspace) -> list[str]:
    return ["cluster", "up", "--zones", "0"]


@case("cluster-up-fewer-nodes-than-zones", "--nodes", "--zones")
def _(w: Workspace) -> list[str]:
    return ["cluster", "up", "--nodes", "2", "--zones", "3"]


@case("cluster-up-port-negative", "--port")
def _(w: Workspace) -> list[str]:
    return ["cluster", "up", "--port", "-1"]


@case("cluster-up-port-too-large", "--port")
def _(w: Workspace) -> list[str]:
    return ["cluster", "up", "--port", "70000"]


@case("cluster-up-port-taken", "--port", "in use")
def _(w: Workspace) -> list[str]:
    return ["cluster", "up", "--port", str(w.taken_port())]


@case("cluster-status-format-unknown", "--format")
def _(w: Workspace) -> list[str]:
    return ["cluster", "status", "--format", "yaml"]


# --- dataplane -------------------------------------------------------------------------------


@case("dataplane-start-timeout-zero", "--timeout-server")
def _(w: Workspace) -> list[str]:
    return ["dataplane", "start", "--timeout-server", "0"]


@case("dataplane-start-cpu-period-negative", "--cpu-period")
def _(w: Workspace) -> list[str]:
    return ["dataplane", "start", "--cpu-period", "-3"]


@case("dataplane-start-workdir-is-a-file", "wfile", "--workdir")
def _(w: Workspace) -> list[str]:
    return ["dataplane", "start", "--workdir", str(w.write("wfile", "x"))]


@case("dataplane-status-format-unknown", "--format")
def _(w: Workspace) -> list[str]:
    return ["dataplane", "status", "--format", "yaml"]


# --- standin ---------------------------------------------------------------------------------


@case("standin-unknown-service", "meteor-service")
def _(w: Workspace) -> list[str]:
    return ["standin", "meteor-service", "--port", "0"]


@case("standin-port-negative", "--port")
def _(w: Workspace) -> list[str]:
    return ["standin", "api-gateway", "--port", "-1"]


@case("standin-port-too-large", "--port")
def _(w: Workspace) -> list[str]:
    return ["standin", "api-gateway", "--port", "65536"]


@case("standin-port-taken", "--port", "in use")
def _(w: Workspace) -> list[str]:
    return ["standin", "api-gateway", "--port", str(w.taken_port())]


@case("standin-host-not-loopback", "--host")
def _(w: Workspace) -> list[str]:
    return ["standin", "api-gateway", "--port", "0", "--host", "0.0.0.0"]


@case("standin-cpu-scale-negative", "--cpu-scale")
def _(w: Workspace) -> list[str]:
    return ["standin", "api-gateway", "--port", "0", "--cpu-scale", "-1"]


@case("standin-upstream-not-loopback", "AIDEON_UPSTREAM_AUTH_SERVICE")
def _(w: Workspace) -> list[str]:
    w.env("AIDEON_UPSTREAM_AUTH_SERVICE", "http://10.0.0.9:8080")
    return ["standin", "api-gateway", "--port", "0"]


@case("standin-config-log-level", "aideon-config", "LOG_LEVEL", "'verbose'")
def _(w: Workspace) -> list[str]:
    w.env("AIDEON_POD_NAME", "api-gateway-0")  # a pod's process, as the data plane starts it
    for key, value in {"ENVIRONMENT": "local", "LOG_LEVEL": "verbose", "FEATURE_FLAGS": ""}.items():
        w.env(key, value)
    return ["standin", "api-gateway", "--port", "0"]


@case("standin-config-partial", "aideon-config", "FEATURE_FLAGS", "missing")
def _(w: Workspace) -> list[str]:
    w.env("AIDEON_POD_NAME", "api-gateway-0")
    w.env("ENVIRONMENT", "local")
    w.env("LOG_LEVEL", "info")
    return ["standin", "api-gateway", "--port", "0"]


# --- the harness ---------------------------------------------------------------------------------


def _tripwire(what: str) -> Callable[..., None]:
    def tripped(*args: object, **kwargs: object) -> None:
        raise Tripwire(f"{what} was reached by bad input")

    return tripped


TRIPWIRES = [
    ("aideon_resilience.gate.run._observe", "the gate's run after its checks"),
    ("aideon_resilience.adapters.localcluster.cluster.LocalCluster._create", "creating the local cluster"),
    ("aideon_resilience.adapters.localcluster.cluster.LocalCluster._delete", "deleting the local cluster"),
    ("aideon_resilience.adapters.localcluster.cluster.ensure_binaries", "building the cluster's binaries"),
    ("aideon_resilience.adapters.kube.apply.apply_objects", "applying manifests"),
    ("aideon_resilience.adapters.dataplane.deploy.apply_objects", "applying manifests"),
    ("aideon_resilience.adapters.dataplane.deploy.start_dataplane", "starting the data plane"),
    ("aideon_resilience.adapters.dataplane.start_dataplane", "starting the data plane"),
    ("aideon_resilience.adapters.dataplane.stop_dataplane", "stopping the data plane"),
    ("aideon_resilience.adapters.standin.server.serve", "serving a stand-in"),
    ("aideon_resilience.gate.targets.local.start_locust", "starting Locust"),
    ("aideon_resilience.gate.run.run_experiment", "running an experiment"),
]


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under root with a digest of its content (directories as such)."""
    seen: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        seen[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    root = tmp_path / "ws"
    root.mkdir()
    for name in ("AIDEON_GATEWAY_URL", "AIDEON_CHAOS_ALLOWED_CONTEXTS", "AIDEON_UNDO_DIR", "AIDEON_CHAOS_RUN_ID",
                 "KUBERNETES_CONTEXT", "CHAOSTOOLKIT_IN_POD", "AIDEON_CHAOS_MAX_NODE_SHARE",
                 "AIDEON_CHAOS_MAX_POD_SHARE"):
        monkeypatch.delenv(name, raising=False)
    # nothing of this machine's own cluster, state or kubeconfig is in reach
    monkeypatch.setenv("AIDEON_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("AIDEON_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("CI", "1")
    monkeypatch.chdir(root)
    for target, what in TRIPWIRES:
        monkeypatch.setattr(target, _tripwire(what))
    w = Workspace(root, monkeypatch)
    yield w
    for s in w.sockets:
        s.close()


def test_the_table_covers_every_command_with_at_least_60_cases() -> None:
    commands = {c.id.split("-")[0] for c in CASES}
    assert commands >= {"lint", "plan", "report", "gate", "rehearse", "rollback", "deploy", "cluster", "dataplane",
                        "standin"}
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("bad", CASES, ids=lambda c: c.id)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    bad: Case, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = bad.setup(workspace)
    before = _snapshot(workspace.root)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert code == 2, f"exit {code}: {err}"
    assert len(lines) == 1, err
    for name in bad.names:
        assert name in lines[0], f"{name!r} not named in: {lines[0]}"
    assert _snapshot(workspace.root) == before
