"""The chaos extension against the local cluster (real API server, disruption controller, KWOK nodes).

Each test works in its own namespace (opted in to chaos) with bare pods pinned to nodes and a
PodDisruptionBudget, and evicts only its own pods (``pod_selector``); nodes it cordons are
uncordoned before it ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from aideon_resilience.chaos import rollback, undo
from aideon_resilience.chaos.actions import DrainTimedOut, drain_nodes, uncordon_nodes
from aideon_resilience.core.evidence.journal import read_journal
from tests.adapters.localcluster.kubehelpers import wait_for

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LABEL = "chaos.aideon.io/allowed"


class Env:
    def __init__(self, kube_cluster: Any, namespace: str, undo_dir: Path) -> None:
        from kubernetes import client, config

        self.cluster = kube_cluster
        self.ns = namespace
        self.undo_dir = undo_dir
        api = config.new_client_from_config(config_file=str(kube_cluster.kubeconfig), context=kube_cluster.context)
        self.core = client.CoreV1Api(api)
        self.policy = client.PolicyV1Api(api)
        self.selector = f"chaos-test={namespace}"

    def free_nodes(self) -> list[str]:
        return sorted(n.metadata.name for n in self.core.list_node().items if not n.spec.unschedulable)

    def unschedulable(self, node: str) -> bool:
        return bool(self.core.read_node(node).spec.unschedulable)

    def pod(self, name: str, node: str) -> None:
        pod_security = {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
        container_security = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
        container = {"name": "app", "image": "registry.aideon.local/aideon/stand-in:1.0.0",
                     "securityContext": container_security}  # fmt: skip
        # a fresh namespace refuses pods (403) until the controller-manager created its default account
        wait_for(f"the default service account of {self.ns}",
                 lambda: any(sa.metadata.name == "default"
                             for sa in self.core.list_namespaced_service_account(self.ns).items), timeout=30)
        self.core.create_namespaced_pod(self.ns, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"chaos-test": self.ns}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0, "securityContext": pod_security,
                     "containers": [container]},
        })  # fmt: skip

    def wait_ready(self, names: list[str], timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            ready = 0
            for name in names:
                st = self.core.read_namespaced_pod(name, self.ns).status
                if any(c.type == "Ready" and c.status == "True" for c in (st.conditions or [])):
                    ready += 1
            if ready == len(names):
                return
            time.sleep(0.5)
        raise AssertionError(f"pods {names} not ready after {timeout}s")

    def pdb(self, name: str, min_available: int, expect_allowed: int, timeout: float = 60) -> None:
        self.policy.create_namespaced_pod_disruption_budget(self.ns, {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"chaos-test": self.ns}}},
        })  # fmt: skip
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.policy.read_namespaced_pod_disruption_budget(name, self.ns).status
            if st is not None and st.observed_generation and st.disruptions_allowed == expect_allowed:
                return
            time.sleep(0.5)
        raise AssertionError(f"PodDisruptionBudget {name} never allowed {expect_allowed} disruptions")

    def pod_exists(self, name: str) -> bool:
        from kubernetes.client.exceptions import ApiException

        try:
            self.core.read_namespaced_pod(name, self.ns)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def subprocess_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "KUBECONFIG": str(self.cluster.kubeconfig),
            "AIDEON_UNDO_DIR": str(self.undo_dir),
            "AIDEON_CHAOS_ALLOWED_CONTEXTS": self.cluster.context,
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        })  # fmt: skip
        env.pop("AIDEON_GATEWAY_URL", None)
        env.pop("KUBERNETES_CONTEXT", None)
        env.update(extra)
        return env

    def drain_experiment(self, tmp: Path, node: str, timeout: int, pause_after: int = 0) -> Path:
        exp = {
            "title": "drain under test",
            "description": "drain one node whose only test pod is protected by a budget",
            "controls": [{"name": "aideon-safety", "provider": {"type": "python",
                          "module": "aideon_resilience.chaos.controls.safety", "arguments": {"namespaces": self.ns}}}],
            "method": [{"type": "action", "name": "drain", "provider": {
                "type": "python", "module": "aideon_resilience.chaos.actions", "func": "drain_nodes",
                "arguments": {"name": node, "timeout": timeout, "backoff_max": 1, "pod_selector": self.selector}},
                **({"pauses": {"after": pause_after}} if pause_after else {})}],
            "rollbacks": [{"type": "action", "name": "uncordon", "provider": {
                "type": "python", "module": "aideon_resilience.chaos.actions", "func": "uncordon_nodes",
                "arguments": {}}}],
        }  # fmt: skip
        path = tmp / "drain.json"
        path.write_text(json.dumps(exp))
        return path

    def chaos_run(self, tmp: Path, experiment: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(BIN / "chaos"), "--log-file", str(tmp / "chaos.log"), "run", "--rollback-strategy", "always",
             "--journal-path", str(tmp / "journal.json"), str(experiment)],
            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def wait_cordoned(self, node: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.unschedulable(node):
                return
            assert proc.poll() is None, "chaos run ended before the drain started"
            time.sleep(0.3)
        raise AssertionError(f"{node} never got cordoned")


@pytest.fixture
def env(kube_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    ns = f"chaos-test-{uuid.uuid4().hex[:6]}"
    undo_dir = tmp_path / "undo"
    monkeypatch.setenv("AIDEON_UNDO_DIR", str(undo_dir))
    monkeypatch.setenv("AIDEON_CHAOS_ALLOWED_CONTEXTS", kube_cluster.context)
    monkeypatch.delenv("KUBERNETES_CONTEXT", raising=False)
    undo.reset()
    e = Env(kube_cluster, ns, undo_dir)
    e.core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": ns, "labels": {LABEL: "true"}}})  # fmt: skip
    try:
        yield e
    finally:
        rollback.replay(undo_dir)  # whatever a failed test left cordoned
        undo.reset()
        e.core.delete_namespace(ns)


def test_drain_under_a_budget_allowing_one_disruption_completes_and_records_refusals(env: Env) -> None:
    x, y, z = env.free_nodes()[:3]
    env.pod("a", x)
    env.pod("b", x)
    env.pod("c", y)
    env.wait_ready(["a", "b", "c"])
    env.pdb("one-at-a-time", min_available=2, expect_allowed=1)

    def replace_a() -> None:  # the "controller": a replacement comes up a while after `a` is gone
        deadline = time.time() + 60
        while env.pod_exists("a") and time.time() < deadline:
            time.sleep(0.3)
        time.sleep(3)
        env.pod("d", z)

    helper = threading.Thread(target=replace_a, daemon=True)
    helper.start()
    try:
        out = drain_nodes(name=x, timeout=90, backoff_max=1, pod_selector=env.selector)
    finally:
        helper.join(70)
    assert env.unschedulable(x)
    assert sorted(out["nodes"][0]["evicted"]) == [f"{env.ns}/a", f"{env.ns}/b"]
    assert out["refusals_total"] >= 1
    refusal = out["refusals"][0]
    assert refusal["pdb"]["name"] == "one-at-a-time" and refusal["pdb"]["disruptions_allowed"] == 0
    assert refusal["pdb"]["desired_healthy"] == 2
    json.dumps(out)
    assert uncordon_nodes()["uncordoned"] == [x]
    assert not env.unschedulable(x)


def test_drain_under_a_budget_allowing_none_times_out_naming_it_and_rollback_uncordons(env: Env) -> None:
    x = env.free_nodes()[0]
    env.pod("only", x)
    env.wait_ready(["only"])
    env.pdb("no-disruption", min_available=1, expect_allowed=0)
    with pytest.raises(DrainTimedOut) as info:
        drain_nodes(name=x, timeout=6, backoff_max=1, pod_selector=env.selector)
    assert str(info.value).startswith(f"drain of node {x} timed out after 6s: ")
    assert f"PodDisruptionBudget {env.ns}/no-disruption allows 0 disruptions (healthy 1, minimum 1)" in str(info.value)
    assert env.unschedulable(x)
    assert env.pod_exists("only")
    uncordon_nodes()
    assert not env.unschedulable(x)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_mid_drain_is_honoured_at_once_and_leaves_no_cordoned_node(
    env: Env, tmp_path: Path, signum: signal.Signals
) -> None:
    """The drain has a 60 s pause after it: the interrupt must not wait it out (issue 12)."""
    x = env.free_nodes()[0]
    env.pod("only", x)
    env.wait_ready(["only"])
    env.pdb("no-disruption", min_available=1, expect_allowed=0)
    experiment = env.drain_experiment(tmp_path, x, timeout=120, pause_after=60)
    proc = env.chaos_run(tmp_path, experiment, env.subprocess_env())
    try:
        env.wait_cordoned(x, proc)
        time.sleep(1)
        sent = time.monotonic()
        proc.send_signal(signum)
        while env.unschedulable(x) and time.monotonic() - sent < 30:
            time.sleep(0.1)
        uncordoned_after = time.monotonic() - sent
        proc.wait(90)
        exited_after = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not env.unschedulable(x)
    assert uncordoned_after < 2.0, f"the node stayed cordoned {uncordoned_after:.1f} s after the signal"
    assert exited_after < 30.0, f"the run ended {exited_after:.1f} s after the signal (the pause is 60 s)"
    assert read_journal(tmp_path / "journal.json").status == "interrupted"
    assert undo.pending_steps(env.undo_dir) == []


def test_sigkill_then_rollback_command_restores(env: Env, tmp_path: Path) -> None:
    x = env.free_nodes()[0]
    env.pod("only", x)
    env.wait_ready(["only"])
    env.pdb("no-disruption", min_available=1, expect_allowed=0)
    sub_env = env.subprocess_env()
    proc = env.chaos_run(tmp_path, env.drain_experiment(tmp_path, x, timeout=120), sub_env)
    try:
        env.wait_cordoned(x, proc)
    finally:
        proc.kill()
        proc.wait(30)
    assert env.unschedulable(x)  # nothing ran after SIGKILL
    done = subprocess.run([str(BIN / "aideon-resilience"), "rollback", str(env.undo_dir)],
                          env=sub_env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"undone: uncordon node {x}" in done.stdout
    assert not env.unschedulable(x)
    assert undo.pending_steps(env.undo_dir) == []


def test_context_not_allow_listed_is_refused_with_nothing_changed(env: Env, tmp_path: Path) -> None:
    x = env.free_nodes()[0]
    env.pod("only", x)
    env.wait_ready(["only"])
    kubeconfig = yaml.safe_load(env.cluster.kubeconfig.read_text())
    ctx = next(c for c in kubeconfig["contexts"] if c["name"] == env.cluster.context)
    kubeconfig["contexts"].append({"name": "staging-eu", "context": dict(ctx["context"])})
    kubeconfig["current-context"] = "staging-eu"
    other = tmp_path / "kubeconfig-staging.yaml"
    other.write_text(yaml.safe_dump(kubeconfig))
    sub_env = env.subprocess_env(KUBECONFIG=str(other), AIDEON_CHAOS_ALLOWED_CONTEXTS="")
    proc = env.chaos_run(tmp_path, env.drain_experiment(tmp_path, x, timeout=30), sub_env)
    assert proc.wait(120) is not None
    summary = read_journal(tmp_path / "journal.json")
    assert summary.status == "interrupted"
    assert [e for e in summary.events if e.kind == "chaos" and e.model_dump()["type"] == "action"] == []
    assert not env.unschedulable(x)
    assert env.pod_exists("only")
    assert "is not allow-listed" in (tmp_path / "chaos.log").read_text()


HERMETIC = ["node-drain.json", "node-loss.json", "pod-kill.json", "rolling-update.json", "zone-outage.json"]
DATA_PLANE = {
    "gateway-outlier.json": ("AIDEON_BACKEND_ADMIN_URL", "AIDEON_PROXY_STATS_URL"),
    "load-surge.json": ("AIDEON_GATEWAY_URL",),
}


def _workload(env: Env, name: str = "gw", replicas: int = 3) -> None:
    """A gateway-like Deployment: one replica per zone and per node, a budget of replicas - 1."""
    from kubernetes import client

    labels = {"app.kubernetes.io/name": name, "chaos-test": env.ns}
    match = {"matchLabels": {"app.kubernetes.io/name": name}}
    pod_security = {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    container = {"name": "app", "image": "registry.aideon.local/aideon/stand-in:1.0.0",
                 "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
    client.AppsV1Api(env.core.api_client).create_namespaced_deployment(env.ns, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": match, "template": {"metadata": {"labels": labels}, "spec": {
            "terminationGracePeriodSeconds": 0, "securityContext": pod_security, "containers": [container],
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": match, "topologyKey": "kubernetes.io/hostname"}]}},
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                           "whenUnsatisfiable": "DoNotSchedule", "labelSelector": match}],
        }}},
    })  # fmt: skip
    env.policy.create_namespaced_pod_disruption_budget(env.ns, {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
        "spec": {"minAvailable": replicas - 1, "selector": match},
    })  # fmt: skip
    apps = client.AppsV1Api(env.core.api_client)
    deadline = time.time() + 120
    while time.time() < deadline:
        dep = apps.read_namespaced_deployment(name, env.ns)
        budget = env.policy.read_namespaced_pod_disruption_budget(name, env.ns).status
        if dep.status.ready_replicas == replicas and budget and budget.disruptions_allowed == 1:
            return
        time.sleep(1)
    raise AssertionError(f"Deployment {name} not ready with its budget after 120s")


def _run_and_judge(env: Env, tmp_path: Path, name: str, sub_env: dict[str, str]) -> None:
    cordoned_before = {n.metadata.name for n in env.core.list_node().items if n.spec.unschedulable}
    proc = env.chaos_run(tmp_path, REPO / "chaos" / name, sub_env)
    try:
        proc.wait(600)
    finally:
        if proc.poll() is None:
            proc.kill()
    summary = read_journal(tmp_path / "journal.json")
    assert summary.held, summary.model_dump_json(indent=1)
    assert summary.rollbacks_run == len(json.loads((REPO / "chaos" / name).read_text())["rollbacks"])
    cordoned_after = {n.metadata.name for n in env.core.list_node().items if n.spec.unschedulable}
    assert cordoned_after <= cordoned_before
    not_ready = [n.metadata.name for n in env.core.list_node().items
                 if not any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]
    assert not_ready == []
    assert undo.pending_steps(env.undo_dir) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", HERMETIC)
def test_experiment_holds_on_a_healthy_workload(env: Env, tmp_path: Path, name: str) -> None:
    """Runs the experiment as a user would, pointed (by its env vars) at a test workload."""
    _workload(env)
    sub_env = env.subprocess_env(
        AIDEON_CHAOS_NAMESPACE=env.ns, AIDEON_CHAOS_DEPLOYMENT="gw", AIDEON_CHAOS_PDB="gw",
        AIDEON_CHAOS_SELECTOR="app.kubernetes.io/name=gw", AIDEON_CHAOS_LOSS_SECONDS="5",
        AIDEON_CHAOS_ZONE_LOSS_SECONDS="5",
        AIDEON_CHAOS_NODE_WAIT_TIMEOUT="40", AIDEON_CHAOS_DRAIN_TIMEOUT="90",
        AIDEON_CHAOS_DRAIN_POD_SELECTOR=env.selector,  # leave other tests' pods alone
    )  # fmt: skip
    _run_and_judge(env, tmp_path, name, sub_env)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DATA_PLANE))
def test_data_plane_experiment_holds_on_the_local_environment(env: Env, tmp_path: Path, name: str) -> None:
    """gateway-outlier and load-surge need the deployed local environment and its data plane."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    missing = [v for v in DATA_PLANE[name] if not os.environ.get(v)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (the local data plane)")
    try:
        client.AppsV1Api(env.core.api_client).read_namespaced_deployment("api-gateway", "aideon-backend")
    except ApiException:
        pytest.skip("the local environment is not deployed (aideon-backend/api-gateway)")
    sub_env = env.subprocess_env(AIDEON_SURGE_SECONDS="60")
    for var in ("AIDEON_GATEWAY_URL", "AIDEON_BACKEND_ADMIN_URL", "AIDEON_PROXY_STATS_URL", "AIDEON_LOCUSTFILE"):
        if os.environ.get(var):
            sub_env[var] = os.environ[var]
    _run_and_judge(env, tmp_path, name, sub_env)


def _template_stamp(env: Env, name: str) -> str | None:
    from kubernetes import client

    from aideon_resilience.chaos.actions.rollout import RESTARTED_AT

    dep = client.AppsV1Api(env.core.api_client).read_namespaced_deployment(name, env.ns)
    return (dep.spec.template.metadata.annotations or {}).get(RESTARTED_AT)


def test_a_rollout_replaces_every_pod_under_the_strategy_and_needs_no_undo(env: Env) -> None:
    from aideon_resilience.chaos.actions import rollout_restart

    _workload(env)
    before = {p.metadata.name for p in env.core.list_namespaced_pod(env.ns).items}
    out = rollout_restart(env.ns, "gw", timeout=120)
    assert out["complete"] and (out["replicas"], out["updated"], out["total"], out["available"]) == (3, 3, 3, 3)
    assert _template_stamp(env, "gw") == out["restarted_at"]
    pods = env.core.list_namespaced_pod(env.ns).items
    after = {p.metadata.name for p in pods if p.metadata.deletion_timestamp is None}
    assert len(after) == 3 and not after & before  # every pod replaced
    assert undo.pending_steps(env.undo_dir) == []  # complete: nothing left to undo


def test_a_rollout_not_complete_in_time_fails_and_its_rollback_restores_the_template(env: Env) -> None:
    from chaoslib.exceptions import ActivityFailed
    from kubernetes import client

    from aideon_resilience.chaos.actions import rollout_restart, undo_rollout

    _workload(env)
    # a paused Deployment takes the change but rolls nothing out: the rollout cannot complete
    client.AppsV1Api(env.core.api_client).patch_namespaced_deployment("gw", env.ns, {"spec": {"paused": True}})
    with pytest.raises(ActivityFailed, match=r"^the rollout of chaos-test-\w+/gw was not complete after 2 s: "
                       r"0 of 3 replicas updated, 3 available, 3 pods; the undo log rolls it back$"):
        rollout_restart(env.ns, "gw", timeout=2)
    assert _template_stamp(env, "gw") is not None
    (step,) = undo.pending_steps(env.undo_dir)
    assert step.kind == "rollout_undo" and step.params["previous"] is None
    assert undo_rollout(env.ns, "gw")["rolled_back"] == [f"{env.ns}/gw"]
    assert _template_stamp(env, "gw") is None  # back to the template it had
    assert undo.pending_steps(env.undo_dir) == []


def test_a_rollout_of_a_namespace_that_has_not_opted_in_is_refused_with_nothing_changed(env: Env) -> None:
    from aideon_resilience.chaos.actions import rollout_restart
    from aideon_resilience.errors import SafetyRefusal

    with pytest.raises(SafetyRefusal, match=r"^rollout_restart: namespace 'default' has not opted in to chaos"):
        rollout_restart("default", "anything", timeout=5)
    assert undo.pending_steps(env.undo_dir) == []
