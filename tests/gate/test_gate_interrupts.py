"""The gate interrupted at varied points with SIGINT, SIGTERM and SIGKILL leaves nothing behind (issue 12).

Each case starts `aideon-resilience gate --env local --experiments E` as a process, waits for a
line of its progress, waits a few seconds more and sends the signal. SIGINT and SIGTERM must stop
everything the gate started and restore what chaos changed by themselves; after SIGKILL,
`aideon-resilience rollback RUN_DIR` must. Then: no node cordoned or lost, no platform workload
scaled to zero, no stand-in failing, no Locust or chaos process of the run alive, no undo step
pending. The full matrix (21 cases) is `long`; the suite runs one case: SIGKILL with a node lost.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from kubernetes import client

from aideon_resilience.adapters.dataplane import dataplane_state
from aideon_resilience.adapters.kube.client import api_client_for
from aideon_resilience.adapters.localcluster import LocalCluster
from aideon_resilience.chaos import undo
from tests.adapters.localcluster.kubehelpers import wait_for
from tests.conftest import REPO, KubeCluster

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(600)]
CLI = Path(sys.executable).with_name("aideon-resilience")
PLATFORM_NAMESPACES = ("aideon-frontend", "aideon-backend", "aideon-knowledge", "aideon-security",
                       "aideon-infrastructure")
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}

# (experiment, progress line to wait for, seconds after it): before the load, while it warms up,
# early and late in each kind of chaos, during the cool-down
POINTS = [
    ("node-drain", "waiting for every disruption budget", 0.0),
    ("node-drain", "load:", 3.0),
    ("node-drain", "chaos 1/1: node-drain", 6.0),
    ("node-loss", "chaos 1/1: node-loss", 8.0),
    ("node-loss", "chaos 1/1: node-loss", 30.0),
    ("gateway-outlier", "chaos 1/1: gateway-outlier", 8.0),
    ("load-surge", "chaos 1/1: load-surge", 10.0),
]
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]


@pytest.fixture(scope="module")
def deployed(kube_cluster: KubeCluster) -> Iterator[KubeCluster]:
    from aideon_resilience.adapters.dataplane import ensure_deployed

    ensure_deployed(REPO / "manifests", REPO / "manifests" / "environments" / "local")
    yield kube_cluster


def _interrupt_gate(out: Path, experiment: str, line: str, after: float, signum: signal.Signals) -> int:
    proc = subprocess.Popen(
        [str(CLI), "gate", "--env", "local", "--out", str(out), "--experiments", experiment],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ),
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        for raw in proc.stdout:
            seen.append(raw.rstrip())
            if line in raw:
                break
        else:
            raise AssertionError(f"the gate ended before {line!r}: {seen[-5:]}")
        time.sleep(after)
        assert proc.poll() is None, f"the gate ended {after} s after {line!r}: {seen[-5:]}"
        proc.send_signal(signum)
        proc.communicate(timeout=180)  # keep reading: a runner's pipe stays open while its job stops
        return proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def _run_processes(out: Path) -> list[str]:
    """Processes whose command line names the run's output directory (its Locust and chaos runs)."""
    found: list[str] = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if str(out) in cmd and p.pid != os.getpid():
            found.append(f"{p.pid}: {cmd[:160]}")
    return found


def _standin_modes() -> dict[str, str]:
    state = dataplane_state(LocalCluster().paths)
    assert state is not None, "the local data plane is not running"
    modes: dict[str, str] = {}
    for s in state.standins:
        if s.get("terminating") or not s.get("port"):
            continue
        conn = http.client.HTTPConnection("127.0.0.1", int(s["port"]), timeout=3)
        try:
            conn.request("GET", "/admin/state")
            modes[str(s["pod"])] = json.loads(conn.getresponse().read()).get("mode", "?")
        except OSError:
            continue  # a process on its way out
        finally:
            conn.close()
    return modes


def _assert_nothing_left(cluster: KubeCluster, out: Path) -> None:
    api = api_client_for(cluster.kubeconfig, cluster.context)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)

    def nodes_restored() -> bool:
        return not [n.metadata.name for n in core.list_node().items
                    if n.spec.unschedulable
                    or not any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]

    wait_for("every node schedulable and Ready", nodes_restored, timeout=120)
    scaled = [f"{d.metadata.namespace}/{d.metadata.name}" for ns in PLATFORM_NAMESPACES
              for d in apps.list_namespaced_deployment(ns).items if (d.spec.replicas or 0) == 0]
    assert scaled == [], f"workloads left scaled to zero: {scaled}"
    failing = {pod: mode for pod, mode in _standin_modes().items() if mode != "ok"}
    assert failing == {}, f"stand-ins left failing or hanging: {failing}"
    wait_for("no Locust or chaos process of the run", lambda: not _run_processes(out), timeout=30)
    assert undo.pending_steps(out) == [], [s.describe() for s in undo.pending_steps(out)]


def _case(cluster: KubeCluster, out: Path, experiment: str, line: str, after: float, signum: signal.Signals) -> None:
    code = _interrupt_gate(out, experiment, line, after, signum)
    assert code == EXIT[signum], f"exit {code} after {signum.name}"
    if signum is signal.SIGKILL:
        runs = [p for p in out.iterdir() if p.is_dir()] if out.is_dir() else []
        for run in runs:
            done = subprocess.run([str(CLI), "rollback", str(run)], capture_output=True, text=True, timeout=300,
                                  env=dict(os.environ))
            assert done.returncode == 0, done.stdout + done.stderr
    _assert_nothing_left(cluster, out)


def test_a_gate_killed_while_a_node_is_lost_is_restored_by_rollback(deployed: KubeCluster, tmp_path: Path) -> None:
    _case(deployed, tmp_path / "out", "node-loss", "chaos 1/1: node-loss", 8.0, signal.SIGKILL)


@pytest.mark.long
@pytest.mark.parametrize("signum", SIGNALS, ids=[s.name for s in SIGNALS])
@pytest.mark.parametrize(("experiment", "line", "after"), POINTS,
                         ids=[f"{e}-{line.split(':')[0].replace(' ', '_')}+{a:g}s" for e, line, a in POINTS])
def test_every_interrupt_leaves_nothing_behind(
    deployed: KubeCluster, tmp_path: Path, experiment: str, line: str, after: float, signum: signal.Signals
) -> None:
    _case(deployed, tmp_path / "out", experiment, line, after, signum)
