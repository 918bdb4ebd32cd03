"""The local data plane's supervisor: pod runtime + CPU feedback + HAProxy + Prometheus in one process.

`aideon-resilience dataplane run` runs `run_supervisor` (a long-running process, started detached by
`control.start_dataplane`, e.g. from `deploy --env local`). Everything it starts (stand-ins,
HAProxy, Prometheus) stays in its process group, so `control.stop_dataplane` ends all of it even
if the supervisor itself is gone. Each tick it follows the pods, points the proxy at the routable
stand-ins (and the outlier detectors at the same hosts), feeds CPU use back and saves its state
(`state`). Its outlier thread (`outlier_control`) runs Envoy's outlier detection on HAProxy's
request log and ejects and returns servers as it decides, recording each ejection.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kubernetes import client

from aideon_resilience.adapters.dataplane.cpu import CpuFeedback
from aideon_resilience.adapters.dataplane.mesh_rules import MeshRules, read_mesh_rules
from aideon_resilience.adapters.dataplane.outlier_control import OutlierControl
from aideon_resilience.adapters.dataplane.prometheus import Prometheus
from aideon_resilience.adapters.dataplane.proxy import HAProxy
from aideon_resilience.adapters.dataplane.proxy_config import LOOPBACK, ProxySettings
from aideon_resilience.adapters.dataplane.request_log import REQUEST_LOG_FORMAT, RequestLog
from aideon_resilience.adapters.dataplane.runtime import PodRuntime
from aideon_resilience.adapters.dataplane.state import (
    EJECTIONS_NAME,
    STATE_NAME,
    DataPlaneOptions,
    DataPlaneState,
    write_state,
)
from aideon_resilience.adapters.kube.volume_provisioner import LocalVolumeProvisioner
from aideon_resilience.adapters.localcluster import LocalCluster
from aideon_resilience.adapters.localcluster.paths import ClusterPaths
from aideon_resilience.adapters.localhost import free_port
from aideon_resilience.adapters.standin.upstream import upstream_env_name
from aideon_resilience.core.profiles import GATEWAY, PROFILES
from aideon_resilience.errors import InfrastructureError

log = logging.getLogger("aideon.dataplane")

TICK_S = 0.5
DR_REFRESH_S = 5.0


class DataPlane:
    """Runs in the supervisor process until `stop` is set."""

    def __init__(
        self,
        core: client.CoreV1Api,
        workdir: Path,
        options: DataPlaneOptions,
        cluster_exists: Callable[[], bool] | None = None,
    ) -> None:
        self.core = core
        self.cluster_exists = cluster_exists
        self.custom = client.CustomObjectsApi(core.api_client)
        self.workdir = workdir
        self.options = options
        self.requests = RequestLog()
        self.proxy = HAProxy(
            workdir / "haproxy",
            ProxySettings(timeout_server_s=options.timeout_server_s),
            request_log=(self.requests.port, REQUEST_LOG_FORMAT),
        )
        self.outlier = OutlierControl(self.proxy, workdir / EJECTIONS_NAME, self.requests)
        self.outlier_stop = threading.Event()
        self.outlier_thread: threading.Thread | None = None
        self.prom = Prometheus(workdir / "prometheus")
        self.cpu = CpuFeedback(core, options.cpu_period_s)
        self.volumes = LocalVolumeProvisioner(core, client.StorageV1Api(core.api_client))
        self.runtime: PodRuntime | None = None
        self.state = DataPlaneState(pid=os.getpid(), status="starting", namespaces=options.namespaces)
        self.backends: dict[str, list[tuple[str, int]]] = {}  # per pool
        self.pools_of: dict[tuple[str, int], list[str]] = {}  # per stand-in address, the pools it serves in
        self.rules = MeshRules()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state.frontends = {s: free_port() for s in PROFILES}
        self.rules = read_mesh_rules(self.custom, self.options.namespaces)
        services = self.rules.proxies(self.state.frontends)
        self.proxy.start(services)
        for svc in services:
            self.outlier.configure(svc.service, svc.policy)
        self.outlier_thread = threading.Thread(target=self.outlier.run, args=(self.outlier_stop,), daemon=True)
        self.outlier_thread.start()
        self.state.haproxy_pid = self.proxy.pid
        self.state.haproxy_socket = str(self.proxy.sock)
        self.state.haproxy_stats_url = f"http://{LOOPBACK}:{self.proxy.stats_port}/stats"
        self.state.gateway_url = f"http://{LOOPBACK}:{self.state.frontends[GATEWAY]}"
        self._record_rules()
        if self.options.prometheus:
            self.prom.start(free_port(), self.proxy.stats_port)
            self.prom.wait_ready()
            self.state.prometheus_pid = self.prom.pid
            self.state.prometheus_url = self.prom.url
        standin_env = {upstream_env_name(s): f"http://{LOOPBACK}:{p}" for s, p in self.state.frontends.items()}
        standin_env["AIDEON_ATTEMPT_LOG_PORT"] = str(self.requests.port)  # each stand-in reports its answers
        self.runtime = PodRuntime(
            self.core,
            self.workdir / "standins",
            standin_env,
            self.options.namespaces,
            self.options.standin_args,
        )
        self.runtime.start()
        if not self.runtime.synced.wait(30):
            raise InfrastructureError("the data plane could not list pods of the local cluster")
        self.state.status = "running"
        self._save()

    def _save(self) -> None:
        if self.runtime is not None:
            self.state.standins = self.runtime.snapshot()
            for standin in self.state.standins:  # the pools (service, subsets) it serves in
                standin["pools"] = self.pools_of.get((LOOPBACK, int(standin.get("port") or 0)), [])
        self.state.haproxy_pid = self.proxy.pid
        self.state.outlier = self.outlier.snapshot()
        self.state.updated = time.time()
        write_state(self.workdir, self.state)

    def tick(self) -> None:
        assert self.runtime is not None
        backends = self.rules.pool_backends(self.runtime.reconcile(), self.runtime.labels)
        for pool, addrs in backends.items():
            if addrs != self.backends.get(pool, []):
                self.proxy.set_backends(pool, addrs)
                self.outlier.set_hosts(pool, addrs)
                log.info("backends of %s: %s", pool, [p for _, p in addrs])
        self.backends = backends
        pools_of: dict[tuple[str, int], list[str]] = {}
        for pool, addrs in sorted(backends.items()):
            for addr in addrs:
                pools_of.setdefault(addr, []).append(pool)
        self.pools_of = pools_of
        self.proxy.reap()
        if self.cpu.due():
            targets = [
                (i.pod.namespace, i.pod.name, i.pid)
                for i in self.runtime.instances.values()
                # from readiness on: a process's start-up (imports) is not load the HPA should see
                if i.alive and i.ready and i.pid is not None and i.stop_at is None
            ]
            self.cpu.tick(targets)
        if self.options.prometheus:
            self.prom.set_standins(self.runtime.snapshot())
        if self.volumes.due():
            try:
                self.volumes.reconcile()
            except Exception as exc:  # the API server away for a moment: the next pass retries
                log.warning("volume provisioner: %s", exc)

    def refresh_rules(self) -> None:
        self.rules = read_mesh_rules(self.custom, self.options.namespaces)
        for svc in self.rules.proxies(self.state.frontends):
            if self.proxy.update_service(svc):
                log.info("%s now from %s, routes %s, %s", svc.service, svc.policy.source, list(svc.routes),
                         svc.retries.source)
            self.outlier.configure(svc.service, svc.policy)
        self._record_rules()

    def _record_rules(self) -> None:
        """Per pool with a DestinationRule its outlier policy, per split service its routes, per
        service its retry policy (state.json)."""
        self.state.policies = {name: asdict(pool.policy) for name, pool in self.rules.pools.items()
                               if pool.rule is not None}
        self.state.routes = self.rules.routes()
        self.state.retries = {service: policy.describe() for service, policy in sorted(self.rules.retries.items())}

    def run(self, stop: threading.Event) -> None:
        try:
            self.start()
            last_rules = time.monotonic()
            last_save = 0.0
            previous: list[dict[str, Any]] = []
            while not stop.is_set():
                if self.cluster_exists is not None and not self.cluster_exists():
                    log.info("the local cluster is gone: stopping the data plane")
                    break
                try:
                    self.tick()
                    if time.monotonic() - last_rules >= DR_REFRESH_S:
                        last_rules = time.monotonic()
                        self.refresh_rules()
                except Exception as exc:  # API or network trouble: keep serving, try again next tick
                    log.warning("data plane tick failed: %s", exc)
                snap = self.runtime.snapshot() if self.runtime else []
                if snap != previous or time.monotonic() - last_save > 5:
                    previous = snap
                    last_save = time.monotonic()
                    self._save()
                stop.wait(TICK_S)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.state.status = "stopping"
        with contextlib.suppress(OSError):
            self._save()
        self.outlier_stop.set()
        if self.outlier_thread is not None:
            self.outlier_thread.join(timeout=5)
        if self.runtime is not None:
            self.runtime.stop()
        self.proxy.stop()
        self.requests.close()
        self.prom.stop()
        with contextlib.suppress(FileNotFoundError):
            (self.workdir / STATE_NAME).unlink()


def run_supervisor(paths: ClusterPaths, workdir: Path, options: DataPlaneOptions) -> None:
    """Body of `aideon-resilience dataplane run`: serve until SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    core = LocalCluster(paths).core()
    DataPlane(core, workdir, options, cluster_exists=paths.kubeconfig.is_file).run(stop)
