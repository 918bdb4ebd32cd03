"""Pod runtime of the local data plane: a stand-in process for each Running pod of a platform service.

KWOK pods run nothing. The runtime watches pods labelled `app.kubernetes.io/part-of: aideon`
(kubernetes watch API) and, for each Running pod whose `app.kubernetes.io/name` is a platform
service, starts `aideon-resilience standin <service> --port 0 --host 127.0.0.1` (the process picks
a free loopback port and prints it). Kubernetes creates and deletes pods; the runtime only follows:

- pod deleted or evicted: taken out of the proxy at once; the process is stopped when the pod's
  grace period ends (`metadata.deletionTimestamp`), i.e. at once for a forced delete
  (`--grace-period=0`). KWOK removes a terminating pod object immediately (its `pod-delete`
  stage has no delay), so the runtime keeps the deadline it saw, not the object.
- the process's loopback port is written on its pod as the annotation `aideon.io/standin-port`
  (and in the data plane's state file), so chaos actions can reach a given pod's process.
- pod Failed/Succeeded, or a pod that vanished without a deletion timestamp: stopped at once.
- a process that exits while its pod should run is restarted after a short back-off, like a
  kubelet restarting a container.
- the process gets the container's environment as the kubelet builds it (`pod_env`: envFrom
  ConfigMaps such as the platform's `aideon-config`, then `env`); a pod whose ConfigMap does not
  exist gets no process (and stays not Ready) until the ConfigMap appears.
- a pod on a node that is not Ready (node loss, see `localcluster.nodes`) keeps its process, as a
  container on a partitioned node keeps running, but gets no traffic from the proxy, and the
  runtime leaves its readiness to the node lifecycle controller (which marks it NotReady).

Readiness: the local cluster's KWOK stages (`localcluster/kwokstages.py`) move a platform pod to
Running with Ready=False and never touch a Running pod's conditions again. The runtime probes
each process's `/ready` (0.5 s timeout) every tick and patches the pod's `Ready` and
`ContainersReady` conditions through the status subresource whenever they disagree with the
probe: a new pod is Ready=False until its process answers, and a process that stops answering
turns its pod NotReady (and out of the Service's endpoints and the proxy) until it answers again.

The pods come from `pod_watch.PodWatcher`, the processes are kept by
`standin_processes.StandinProcesses`; this module decides what each pod's process should do and
reports readiness and ports back to the API server.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from aideon_resilience.adapters.dataplane.pod_env import MissingConfigMap, resolve
from aideon_resilience.adapters.dataplane.pod_watch import PodInfo, PodWatcher
from aideon_resilience.adapters.dataplane.standin_processes import (
    LOOPBACK,
    Instance,
    StandinProcesses,
    listening_port,
)
from aideon_resilience.core.conditions import is_ready

NODE_REFRESH_S = 1.0
PORT_ANNOTATION = "aideon.io/standin-port"

log = logging.getLogger("aideon.dataplane.runtime")


class PodRuntime:
    """Follows the cluster's platform pods with stand-in processes (see module docstring)."""

    def __init__(
        self,
        core: client.CoreV1Api,
        workdir: Path,
        standin_env: dict[str, str] | None = None,
        namespaces: list[str] | None = None,
        standin_args: list[str] | None = None,
    ) -> None:
        self.core = core
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.processes = StandinProcesses(self.logs, dict(standin_env or {}), list(standin_args or []))
        self.instances: dict[str, Instance] = self.processes.instances
        self.watcher = PodWatcher(core, namespaces, keep_gone=lambda uid: uid in self.instances)
        self.synced = self.watcher.synced
        self.nodes_ready: dict[str, bool] = {}
        # the pod labels of each routable backend (of the last reconcile): subsets select by them
        self.labels: dict[tuple[str, int], dict[str, str]] = {}
        self._nodes_at = 0.0
        self.waiting_for_config: dict[str, str] = {}  # pod uid -> why its process cannot start

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.watcher.start()

    def reconcile(self) -> dict[str, list[tuple[str, int]]]:
        """One tick: start/stop processes, probe readiness, patch pods; returns routable backends
        per service (their pods' labels in `labels`)."""
        now = time.time()
        pods = self.watcher.current()
        self._follow_pods(pods, now)
        self._tend_processes(pods, now)
        self._refresh_nodes()
        for inst in self.instances.values():
            inst.node_ready = self.nodes_ready.get(inst.pod.node, True)
        self.processes.probe_all()
        self._sync_pod_readiness()
        backends: dict[str, list[tuple[str, int]]] = {}
        self.labels = {}
        for inst in self.instances.values():
            if inst.routable:
                assert inst.port is not None
                backends.setdefault(inst.pod.service, []).append((LOOPBACK, inst.port))
                self.labels[(LOOPBACK, inst.port)] = inst.pod.labels
        for addrs in backends.values():
            addrs.sort()
        return backends

    def _follow_pods(self, pods: dict[str, PodInfo], now: float) -> None:
        """A process for each new runnable pod; a stop time for each process whose pod ends."""
        for uid, info in pods.items():
            inst = self.instances.get(uid)
            runnable = info.phase == "Running" and info.deletion_at is None and not info.gone
            if inst is None:
                if runnable:
                    env = self._environment(uid, info)
                    if env is not None:
                        self.processes.start_for(uid, info, env)
                else:
                    self.waiting_for_config.pop(uid, None)
                if info.gone:
                    self.watcher.forget(uid)
                continue
            inst.pod = info
            if not runnable and inst.stop_at is None:
                if info.deletion_at is not None:
                    inst.stop_at = min(info.deletion_at, now + 3600)
                else:  # Failed/Succeeded or gone without a deletion timestamp
                    inst.stop_at = now
                log.info("pod %s terminating: stand-in stops in %.1fs", info.key, max(0.0, inst.stop_at - now))

    def _environment(self, uid: str, info: PodInfo) -> dict[str, str] | None:
        """The pod's container environment; None (logged once) while a ConfigMap it needs is missing."""
        fields = {"metadata.name": info.name, "metadata.namespace": info.namespace, "spec.nodeName": info.node}
        try:
            env = resolve(info.env, lambda name: self._configmap(info.namespace, name), fields)
        except MissingConfigMap as exc:
            if self.waiting_for_config.get(uid) != str(exc):
                log.warning("pod %s: %s (CreateContainerConfigError): no process until it exists", info.key, exc)
            self.waiting_for_config[uid] = str(exc)
            return None
        self.waiting_for_config.pop(uid, None)
        return env

    def _configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            cm = self.core.read_namespaced_config_map(name, namespace, _request_timeout=5)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise MissingConfigMap(f"configmap {name!r} could not be read: {exc.reason}") from None
        except Exception as exc:  # the API server away for a moment: try again next tick
            raise MissingConfigMap(f"configmap {name!r} could not be read: {exc}") from None
        return dict(cm.data or {})

    def _tend_processes(self, pods: dict[str, PodInfo], now: float) -> None:
        """Stop what should stop, restart what exited, learn the port of what started."""
        for uid, inst in list(self.instances.items()):
            if uid not in pods:
                inst.stop_at = inst.stop_at or now
            if inst.stop_at is not None:
                if self.processes.reap(uid, inst, now):
                    self.watcher.forget_ended(uid)
                continue
            if not inst.alive:
                self.processes.restart_when_due(inst, now)
                continue
            if inst.port is None:
                inst.port = listening_port(inst.log_path)
                if inst.port is not None:
                    self._annotate_port(inst)

    def _refresh_nodes(self) -> None:
        """Ready condition of every node, at most every NODE_REFRESH_S."""
        if time.monotonic() - self._nodes_at < NODE_REFRESH_S:
            return
        try:
            nodes = self.core.list_node(_request_timeout=5).items
        except Exception as exc:  # keep the last view; try again next tick
            log.warning("could not list nodes: %s", exc)
            return
        self._nodes_at = time.monotonic()
        self.nodes_ready = {n.metadata.name: is_ready(n) for n in nodes}

    def _annotate_port(self, inst: Instance) -> None:
        """Record the process's loopback port on its pod (`aideon.io/standin-port`) for other tools."""
        try:
            self.core.patch_namespaced_pod(
                inst.pod.name,
                inst.pod.namespace,
                {"metadata": {"annotations": {PORT_ANNOTATION: str(inst.port)}}},
                _request_timeout=5,
            )
        except Exception as exc:  # informative only
            log.warning("could not annotate %s with its port: %s", inst.pod.key, exc)

    def _sync_pod_readiness(self) -> None:
        for inst in self.instances.values():
            if inst.stop_at is not None or inst.pod.gone or not inst.node_ready:
                # On a NotReady node the node lifecycle controller owns the pods' readiness: a
                # kubelet that lost its node cannot report.
                continue
            want = inst.ready
            if inst.pod.ready == want:
                continue
            status = "True" if want else "False"
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            reason = None if want else "StandinNotReady"
            conds = [
                {"type": t, "status": status, "lastTransitionTime": stamp, "reason": reason}
                for t in ("Ready", "ContainersReady")
            ]
            try:
                self.core.patch_namespaced_pod_status(
                    inst.pod.name, inst.pod.namespace, {"status": {"conditions": conds}}, _request_timeout=5
                )
                inst.pod.ready = want
            except ApiException as exc:
                if exc.status != 404:
                    log.warning("could not patch readiness of %s: %s", inst.pod.key, exc.reason)

    def snapshot(self) -> list[dict[str, Any]]:
        return self.processes.snapshot()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching and end every process (SIGTERM, SIGKILL after `timeout`)."""
        self.watcher.stop()
        self.processes.stop(timeout)
