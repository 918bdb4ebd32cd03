"""The local embedded cluster: real control-plane processes on loopback, KWOK nodes over zones.

`up` is idempotent (a healthy cluster is reused, its nodes reconciled to the asked shape),
`down` stops every process it started and removes the cluster's state, `status` reports each
component, `env` gives the shell lines that point tools at the cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from aideon_resilience.adapters.kube.client import api_client_for
from aideon_resilience.adapters.localcluster import nodes as node_ops
from aideon_resilience.adapters.localcluster import stage_objects
from aideon_resilience.adapters.localcluster.binaries import ensure_binaries, kwok_stages_dir
from aideon_resilience.adapters.localcluster.kwokconfig import LOOPBACK, STAGE_CRD, kwokctl_configuration
from aideon_resilience.adapters.localcluster.kwokstages import cluster_stages
from aideon_resilience.adapters.localcluster.paths import ClusterPaths
from aideon_resilience.adapters.localhost import pid_alive, port_in_use
from aideon_resilience.core.conditions import is_ready
from aideon_resilience.errors import ClusterError, UsageError
from aideon_resilience.settings import settings

COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok-controller",
    "metrics-server",
)
DEFAULT_NODES = 6
DEFAULT_ZONES = 3

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


@dataclass
class ComponentStatus:
    name: str
    running: bool
    pid: int | None = None
    detail: str = ""


@dataclass
class ClusterStatus:
    exists: bool
    healthy: bool
    context: str
    kubeconfig: str
    components: list[ComponentStatus] = field(default_factory=list)
    nodes: dict[str, list[str]] = field(default_factory=dict)
    ready_nodes: int = 0
    metrics_api: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _readable(line: str) -> str:
    """kwokctl logs JSON; show its message (and error) rather than the whole record."""
    if line.startswith("{"):
        with contextlib.suppress(ValueError):
            rec = json.loads(line)
            msg = str(rec.get("msg", line))
            return f"{msg}: {rec['err']}" if "err" in rec else msg
    return line


class LocalCluster:
    """Handle on the local cluster named `paths.name` (default `aideon`)."""

    def __init__(self, paths: ClusterPaths | None = None, runtime_readiness: bool = True) -> None:
        self.paths = paths or ClusterPaths()
        # True: the local data plane owns the platform pods' readiness (kwokstages.py); False for a
        # cluster that never runs one (the rehearsal), where KWOK's defaults make pods Ready.
        self.runtime_readiness = runtime_readiness

    # -- kwokctl -------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = settings().child_environment()
        env["KWOK_WORKDIR"] = str(self.paths.kwok_workdir)
        env["PATH"] = f"{self.paths.bin}{os.pathsep}{env.get('PATH', '')}"
        # kwokctl adds its context to $KUBECONFIG: keep the user's own kubeconfig untouched.
        env["KUBECONFIG"] = str(self.paths.kwok_workdir / "kubeconfig")
        return env

    def kwokctl(self, *args: str, progress: Progress = _noop, timeout: float = 300) -> tuple[int, list[str]]:
        cmd = [str(self.paths.bin / "kwokctl"), "--name", self.paths.name, *args]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self._env())
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        for raw in proc.stdout:
            line = raw.rstrip()
            lines.append(line)
            progress(_readable(line))
            if time.monotonic() > deadline:
                proc.kill()
                break
        return proc.wait(), lines

    # -- state ---------------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.paths.cluster_dir / "kwok.yaml").is_file()

    def _pid_files(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        if self.paths.pids.is_dir():
            for pid_file in self.paths.pids.glob("*.pid"):
                found[pid_file.stem] = pid_file
        return found

    def _pids(self) -> dict[str, int]:
        pids: dict[str, int] = {}
        for name, pid_file in self._pid_files().items():
            with contextlib.suppress(OSError, ValueError):
                pids[name] = int(pid_file.read_text(encoding="utf-8").strip())
        return pids

    def api_client(self, timeout: float = 5) -> client.ApiClient:
        if not self.paths.kubeconfig.is_file():
            raise ClusterError("the local cluster is not up (run: aideon-resilience cluster up)")
        return api_client_for(self.paths.kubeconfig, self.paths.context)

    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api_client())

    def healthy(self) -> bool:
        if not self.exists() or not self.paths.kubeconfig.is_file():
            return False
        try:
            api = self.api_client()
            method, url, headers, *_ = api.param_serialize("GET", "/readyz", auth_settings=["BearerToken"])
            resp = api.call_api(method, url, header_params=headers, _request_timeout=3)
            return bool(resp.status == 200 and resp.read().strip() == b"ok")
        except Exception:
            return False

    def _metrics_api_available(self) -> bool:
        try:
            reg = client.ApiregistrationV1Api(self.api_client())
            svc = reg.read_api_service("v1beta1.metrics.k8s.io", _request_timeout=3)
        except Exception:
            return False
        return any(c.type == "Available" and c.status == "True" for c in (svc.status.conditions or []))

    # -- commands ------------------------------------------------------------------------------
    def up(
        self,
        nodes: int = DEFAULT_NODES,
        zones: int = DEFAULT_ZONES,
        apiserver_port: int = 0,
        progress: Progress = _noop,
        timeout: float = 180,
        node_size: node_ops.NodeSize = node_ops.DEFAULT_NODE_SIZE,
    ) -> ClusterStatus:
        node_ops.node_layout(nodes, zones)  # validates both before anything starts
        if nodes < zones:
            raise UsageError(f"--nodes ({nodes}) must be at least --zones ({zones}) so every zone has a node")
        if apiserver_port and not 1024 <= apiserver_port <= 65535:
            raise UsageError(f"--port must be between 1024 and 65535, got {apiserver_port}")
        reused = self.healthy()
        if reused and not self._stages_are_objects():
            progress("the local cluster keeps its KWOK stages in its configuration (an older version): recreating it")
            self._delete(progress)
            reused = False
        if not reused:
            if apiserver_port and port_in_use(apiserver_port):
                raise UsageError(f"--port: port {apiserver_port} on {LOOPBACK} is already in use")
            progress("checking the local cluster's binaries")
            ensure_binaries(self.paths, on_line=progress)
            if self.exists():
                progress("an earlier local cluster is not healthy: removing it")
                self._delete(progress)
            self._create(apiserver_port, progress)
        else:
            progress(f"reusing the healthy local cluster {self.paths.context}")
        try:
            core = self.core()
            stages = self._stages()
            # node stages first, pod stages once KWOK's node controller runs (stage_objects.py)
            stage_objects.apply_stages(core.api_client, stage_objects.of_kind(stages, "Node"))
            names = node_ops.reconcile_nodes(core, nodes, zones, node_size)
            progress(f"waiting for {len(names)} nodes over {zones} zones to be Ready")
            deadline = time.monotonic() + timeout
            for name in names:
                node_ops.wait_node_ready(core, name, "True", max(1.0, deadline - time.monotonic()))
            stage_objects.apply_stages(core.api_client, stages, prune=True)
            progress("waiting for metrics.k8s.io")
            while not self._metrics_api_available():
                if time.monotonic() > deadline:
                    raise ClusterError("metrics.k8s.io did not become available (metrics-server not serving)")
                time.sleep(1)
        except Exception:
            if not reused:
                self._delete(_noop)
            raise
        return self.status()

    def _stages(self) -> list[dict[str, Any]]:
        return cluster_stages(kwok_stages_dir(self.paths), runtime_readiness=self.runtime_readiness)

    def _stages_are_objects(self) -> bool:
        """Whether the running cluster was created to take its KWOK stages as API objects."""
        try:
            created_with = next(yaml.safe_load_all(self.paths.config_file.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError, StopIteration):
            return False  # its configuration is gone: recreate it
        return STAGE_CRD in ((created_with or {}).get("options") or {}).get("enableCRDs", [])

    def _create(self, apiserver_port: int, progress: Progress) -> None:
        self.paths.cache.mkdir(parents=True, exist_ok=True)
        documents: list[dict[str, Any]] = [kwokctl_configuration(self.paths, apiserver_port)]
        self.paths.config_file.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
        progress("starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, metrics-server")
        code, lines = self.kwokctl(
            "create", "cluster", "--config", str(self.paths.config_file), "--wait", "120s",
            "--quiet-pull", progress=progress,
        )
        if code != 0 or not self.healthy():
            readable = [_readable(ln) for ln in lines]
            detail = next((ln for ln in reversed(readable) if "error" in ln.lower()), readable[-1] if readable else "")
            self._delete(_noop)
            raise ClusterError(f"the local cluster failed to start: {detail.strip()[:300]}")

    def _delete(self, progress: Progress) -> None:
        pids = self._pids()
        if self.exists():
            self.kwokctl("delete", "cluster", progress=progress, timeout=120)
        deadline = time.monotonic() + 15
        for pid in pids.values():
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def down(self, progress: Progress = _noop) -> bool:
        """Stop everything; returns False when there was no cluster."""
        existed = self.exists()
        self._delete(progress)
        left = [name for name, pid in self._pids().items() if pid_alive(pid)]
        if left:
            raise ClusterError(f"processes still running after cluster down: {', '.join(left)}")
        return existed

    def status(self) -> ClusterStatus:
        pids = self._pids()
        components = [
            ComponentStatus(name, pid is not None and pid_alive(pid), pid)
            for name, pid in ((c, pids.get(c)) for c in COMPONENTS)
        ]
        st = ClusterStatus(
            exists=self.exists(),
            healthy=False,
            context=self.paths.context,
            kubeconfig=str(self.paths.kubeconfig),
            components=components,
        )
        if not st.exists:
            return st
        st.healthy = self.healthy()
        if st.healthy:
            core = self.core()
            st.nodes = node_ops.nodes_by_zone(core)
            st.ready_nodes = sum(1 for n in core.list_node().items if is_ready(n))
            st.metrics_api = self._metrics_api_available()
        return st

    def env_lines(self) -> list[str]:
        if not self.exists():
            raise ClusterError("the local cluster is not up (run: aideon-resilience cluster up)")
        return [f"export KUBECONFIG={self.paths.kubeconfig}"]
