"""The sampler through real outages of the local cluster's control plane (issue 12).

A component is restarted the way a supervisor would: stopped (SIGTERM, then SIGKILL), kept down for a few
seconds, started again with the command line, working directory and environment it had, its pid
file updated so `cluster down` still finds it. `long`: these restart components of the session's
cluster, which the suite's other tests should not have to live through.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from kubernetes import client

from aideon_resilience.adapters.kube.sampler import Sampler
from aideon_resilience.adapters.localcluster import LocalCluster
from aideon_resilience.core.evaluate import RunData
from aideon_resilience.core.evaluate.gaps import gaps_for
from aideon_resilience.core.evidence.timeline import load_timeline
from aideon_resilience.core.evidence.timeline_writer import TimelineWriter
from tests.adapters.localcluster.kubehelpers import deployment, namespace, running, wait_for
from tests.conftest import KubeCluster

pytestmark = [pytest.mark.cluster, pytest.mark.long, pytest.mark.timeout(600)]


@dataclass
class Component:
    """How a process of the local cluster was started, to start it again."""

    name: str
    pid: int
    cmdline: list[str]
    cwd: str
    env: dict[str, str]

    @classmethod
    def of(cls, cluster: LocalCluster, name: str) -> Component:
        pid = int((cluster.paths.pids / f"{name}.pid").read_text().strip())
        proc = psutil.Process(pid)
        return cls(name, pid, proc.cmdline(), proc.cwd(), proc.environ())

    def alive(self) -> bool:
        return psutil.pid_exists(self.pid) and psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE

    def start(self, cluster: LocalCluster) -> None:
        log = cluster.paths.cluster_dir / "logs" / f"{self.name}.restarted.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            new = subprocess.Popen(self.cmdline, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        (cluster.paths.pids / f"{self.name}.pid").write_text(str(new.pid))
        self.pid = new.pid


def restart_component(cluster: LocalCluster, name: str, down_s: float) -> tuple[float, float]:
    """Stop `name` (SIGTERM; SIGKILL if that takes over 10 s), wait `down_s`, start it again, and
    start again whatever of the control plane died meanwhile (the controller-manager and the
    scheduler exit when they cannot renew their leader lease, and a kubelet would restart them);
    (stopped, started)."""
    others = [Component.of(cluster, n) for n in ("kube-controller-manager", "kube-scheduler", "kwok-controller")
              if n != name]
    target = Component.of(cluster, name)
    proc = psutil.Process(target.pid)
    stopped = time.time()
    proc.terminate()
    try:
        proc.wait(10)
    except psutil.TimeoutExpired:  # the API server drains its watches first: a crash is a restart too
        proc.kill()
        proc.wait(10)
    time.sleep(down_s)
    target.start(cluster)
    started = time.time()
    wait_for("the API server back", cluster.healthy, timeout=90)
    time.sleep(5)
    for c in others:
        if not c.alive():
            c.start(cluster)
    return stopped, started


@pytest.fixture()
def sampled(kube_cluster: KubeCluster, tmp_path: Path) -> Iterator[tuple[Sampler, Path, str]]:
    cluster = LocalCluster()
    api = cluster.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    path = tmp_path / "timeline.jsonl"
    with namespace(core, "t-outage") as ns:
        apps.create_namespaced_deployment(ns, deployment("web", 2))
        wait_for("2 running pods", lambda: len(running(core, ns, "web")) == 2)
        writer = TimelineWriter(path)
        sampler = Sampler(api, writer, namespaces=[ns])
        sampler.start()
        try:
            yield sampler, path, ns
        finally:
            sampler.stop()
            writer.close()


def test_an_api_server_restart_is_a_gap_in_every_stream_and_the_watches_resume(
    sampled: tuple[Sampler, Path, str]
) -> None:
    sampler, path, ns = sampled
    time.sleep(3)
    cluster = LocalCluster()
    stopped, started = restart_component(cluster, "kube-apiserver", down_s=5)
    apps = client.AppsV1Api(cluster.api_client())
    apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 3}})  # seen after the gap
    wait_for("3 ready replicas", lambda: (apps.read_namespaced_deployment("web", ns).status.ready_replicas or 0) >= 3)
    time.sleep(8)  # every stream's next watch (5 s timeout) has resumed
    sampler.stop()
    tl = load_timeline(path)
    streams = {g.stream for g in tl.gaps}
    assert streams >= {"nodes", "pods", "deployments"}, streams
    for g in tl.gaps:
        assert stopped - 1 <= g.start <= started + 1, (g.stream, g.start - stopped)
        assert g.t >= started, (g.stream, g.t - started)
    assert any(w.name == "web" and w.replicas == 3 for w in tl.workloads), "nothing sampled after the restart"
    data = RunData(windows=None, timeline=tl, t0=stopped - 10, t_end=time.time())
    assert gaps_for("recovery", data) and gaps_for("anti_affinity", data)


def test_metrics_server_down_is_recorded_on_the_hpa_samples(sampled: tuple[Sampler, Path, str]) -> None:
    sampler, path, ns = sampled
    cluster = LocalCluster()
    autoscaling = client.AutoscalingV2Api(cluster.api_client())
    autoscaling.create_namespaced_horizontal_pod_autoscaler(ns, {
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 2, "maxReplicas": 4,
                 "metrics": [{"type": "Resource", "resource": {
                     "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
    })

    def active() -> bool:
        st = autoscaling.read_namespaced_horizontal_pod_autoscaler("web", ns).status
        return any(c.type == "ScalingActive" and c.status == "True" for c in (st.conditions or []))

    wait_for("the HPA reading its metrics", active, timeout=120)
    stopped, _ = restart_component(cluster, "metrics-server", down_s=40)
    wait_for("the HPA reading its metrics again", active, timeout=180)
    time.sleep(2)
    sampler.stop()
    web = [w for w in load_timeline(path).workloads if w.name == "web"]
    # (a new HPA has no metrics for its first seconds either: only what followed the stop counts)
    blind = [w for w in web if w.hpa_inactive is not None and w.t >= stopped]
    assert blind, "no HPA sample recorded the missing metrics"
    assert blind[0].hpa_inactive == "FailedGetResourceMetric"
    assert web[-1].hpa_inactive is None, "the HPA's recovery was not recorded"
