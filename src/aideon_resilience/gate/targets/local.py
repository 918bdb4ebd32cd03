"""The local embedded cluster with its data plane: real control plane, KWOK nodes, real processes.

It brings itself up (reused when healthy) at the environment's declared shape, deploys the
overlay with the data plane in front of it, and knows its gateway. Before each experiment it
resolves the loopback endpoints the outlier experiment acts on; afterwards it hands over the
ejections its proxy recorded.
"""

from __future__ import annotations

import math
from pathlib import Path

from aideon_resilience.adapters.dataplane import dataplane_events, dataplane_state, ensure_deployed
from aideon_resilience.adapters.dataplane.proxy_config import backend_name
from aideon_resilience.adapters.dataplane.state import default_workdir
from aideon_resilience.adapters.localcluster import CONTEXT, ClusterPaths, LocalCluster
from aideon_resilience.adapters.localcluster.nodes import NodeSize
from aideon_resilience.core.config.shape import ClusterShape
from aideon_resilience.core.evidence.timeline import TimelineEvent
from aideon_resilience.errors import InputFileError, SafetyRefusal
from aideon_resilience.gate.load_handle import LoadSpec, RunningLoad
from aideon_resilience.gate.load_process import start_locust
from aideon_resilience.gate.options import Progress
from aideon_resilience.gate.targets.base import Connection, require_allowed
from aideon_resilience.settings import Settings

GATEWAY_SERVICE = "api-gateway"
GATEWAY_NAMESPACE = "aideon-backend"
OUTLIER_SECONDS = "AIDEON_CHAOS_OUTLIER_SECONDS"
# the outlier experiment keeps its backend failing for this many of the gateway's baseEjectionTime:
# ejected (1x), back at a sweep, ejected again for 2x before it is healed (Envoy's growing ejection)
FAILING_EJECTIONS = 3


class LocalTarget:
    """`gate --env local`: the cluster `aideon-resilience cluster up` runs, on loopback."""

    def __init__(self, manifests: Path, env_dir: Path, shape: ClusterShape, settings: Settings, *,
                 overlay: Path | None = None, context: str | None = None, gateway_url: str | None = None,
                 paths: ClusterPaths | None = None) -> None:
        self.manifests = manifests
        self.env_dir = env_dir
        self.overlay = overlay  # deploy this instead of the environment's overlay
        self.settings = settings
        self.shape = shape
        self.requested_context = context
        self.gateway_url = gateway_url
        self.paths = paths or ClusterPaths()

    @property
    def context(self) -> str:
        return self.requested_context or CONTEXT

    def check(self) -> None:
        if self.context != CONTEXT:
            raise SafetyRefusal(f"--context {self.context}: the local environment runs on {CONTEXT} only")
        if self.overlay is not None and not (self.overlay / "kustomization.yaml").is_file():
            raise InputFileError(self.overlay, "--overlay: not a kustomize directory (no kustomization.yaml)")
        require_allowed(self.context, self.settings)

    def provision(self, progress: Progress) -> Connection:
        cluster = LocalCluster(self.paths)
        progress("bringing the local cluster up (reused when healthy)")
        size = self.shape.node_allocatable
        cluster.up(nodes=self.shape.nodes, zones=self.shape.zone_count, progress=progress,
                   node_size=NodeSize.of(size.cpu_millis, size.memory_mib, size.pods))
        progress("deploying the local overlay and the local data plane")
        url = ensure_deployed(self.manifests, self.overlay or self.env_dir, progress=progress)
        return Connection(self.paths.kubeconfig, self.context, self.gateway_url or url)

    def chaos_env(self) -> dict[str, str]:
        """Loopback endpoints of the local data plane the outlier experiment acts on, resolved right
        before each experiment (pods, and so stand-in ports, change under chaos): the admin endpoint
        of one ready gateway stand-in, the proxy's stats, and (unless set) how long the backend
        fails: three of the gateway's baseEjectionTime as the data plane applies it."""
        state = dataplane_state(self.paths)
        if state is None:
            return {}
        env: dict[str, str] = {}
        # a stand-in that serves and will keep serving: not one of a pod on its way out (its grace
        # period keeps the process alive for a while after the proxy dropped it) or on a lost node
        # the pool most of the gateway's requests go to: its route's heaviest subset, else the service
        routes = sorted(state.routes.get(GATEWAY_SERVICE) or [[GATEWAY_SERVICE, 100]], key=lambda r: -r[1])
        pool = str(routes[0][0])
        gateways = sorted(
            s["port"]
            for s in state.standins
            if s.get("service") == GATEWAY_SERVICE and s.get("namespace") == GATEWAY_NAMESPACE
            and s.get("ready") and s.get("node_ready", True) and not s.get("terminating")
            and pool in s.get("pools", [GATEWAY_SERVICE])
        )
        if gateways:
            env["AIDEON_BACKEND_ADMIN_URL"] = f"http://127.0.0.1:{gateways[0]}"
        env["AIDEON_DATAPLANE_DIR"] = str(default_workdir(self.paths))
        if state.haproxy_stats_url:
            env["AIDEON_PROXY_STATS_URL"] = state.haproxy_stats_url + ";csv"
            env["AIDEON_PROXY_BACKEND"] = backend_name(pool)
        base = state.outlier.get(pool, {}).get("base_ejection_s")
        if base and self.settings.raw(OUTLIER_SECONDS) is None:
            env[OUTLIER_SECONDS] = str(math.ceil(FAILING_EJECTIONS * float(base)))
        return env

    def start_load(self, spec: LoadSpec, progress: Progress) -> RunningLoad | None:
        """Locust on this machine: one process, or a loopback master and gate.yaml's workers."""
        return start_locust(spec, progress)

    def evidence(self, started: float, ended: float) -> list[TimelineEvent]:
        return dataplane_events(self.paths, started, ended)

    def release(self, progress: Progress) -> None:
        return None  # the local cluster stays up for the next run (`cluster down` removes it)
