"""The local data plane: pod runtime + CPU feedback + HAProxy + Prometheus under one supervisor.

`aideon-resilience dataplane run` is the supervisor (a long-running process, started detached by
`start_dataplane`, e.g. from `deploy --env local`). Everything it starts (stand-ins, HAProxy,
Prometheus) stays in its process group, so `stop_dataplane` ends all of it even if the supervisor
itself is gone. Its state (pids, ports, gateway URL) is a JSON file in the work directory,
`<cluster cache>/dataplane/state.json` by default; `cluster env` prints
`export AIDEON_GATEWAY_URL=...` from it (`dataplane_env_lines`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from aideon_resilience.adapters.dataplane.cpu import CpuFeedback
from aideon_resilience.adapters.dataplane.prometheus import Prometheus
from aideon_resilience.adapters.dataplane.proxy import HAProxy, free_port
from aideon_resilience.adapters.dataplane.proxy_config import (
    LOOPBACK,
    OutlierPolicy,
    ProxySettings,
    ServiceProxy,
    connect_timeout_from_destination_rule,
    outlier_from_destination_rule,
)
from aideon_resilience.adapters.dataplane.runtime import PodRuntime
from aideon_resilience.adapters.dataplane.standin_processes import standin_command
from aideon_resilience.adapters.localcluster import LocalCluster
from aideon_resilience.adapters.localcluster.paths import ClusterPaths
from aideon_resilience.adapters.standin.upstream import upstream_env_name
from aideon_resilience.core.profiles import GATEWAY, PROFILES
from aideon_resilience.core.timeline import TimelineEvent, parse_event
from aideon_resilience.errors import InfrastructureError
from aideon_resilience.settings import settings

log = logging.getLogger("aideon.dataplane")

STATE_NAME = "state.json"
TICK_S = 0.5
DR_REFRESH_S = 10.0


EJECTIONS_NAME = "ejections.jsonl"


def ejection_events(
    paths: ClusterPaths, since: float, until: float, workdir: Path | None = None
) -> list[TimelineEvent]:
    """The ejections and returns the proxy recorded between `since` and `until` (a line the
    supervisor could not finish writing is left out)."""
    file = (workdir or default_workdir(paths)) / EJECTIONS_NAME
    if not file.is_file():
        return []
    events = []
    for line in file.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            event = parse_event(line)
            if event is not None and since <= event.t <= until:
                events.append(event)
    return events


def default_workdir(paths: ClusterPaths) -> Path:
    """One data plane per local cluster: `<cache>/dataplane/<cluster name>`."""
    return paths.cache / "dataplane" / paths.name


@dataclass
class DataPlaneOptions:
    namespaces: list[str] | None = None  # None: every namespace
    timeout_server_s: float = 5.0
    prometheus: bool = True
    cpu_period_s: float = 3.0
    standin_args: list[str] = field(default_factory=list)

    def to_args(self) -> list[str]:
        args: list[str] = []
        for ns in self.namespaces or []:
            args += ["--namespace", ns]
        args += ["--timeout-server", f"{self.timeout_server_s:g}", "--cpu-period", f"{self.cpu_period_s:g}"]
        if not self.prometheus:
            args.append("--no-prometheus")
        for a in self.standin_args:
            args.append(f"--standin-arg={a}")
        return args


@dataclass
class DataPlaneState:
    pid: int
    status: str  # starting | running | stopping
    gateway_url: str = ""
    prometheus_url: str = ""
    haproxy_pid: int | None = None
    haproxy_stats_url: str = ""
    haproxy_socket: str = ""
    prometheus_pid: int | None = None
    frontends: dict[str, int] = field(default_factory=dict)
    standins: list[dict[str, Any]] = field(default_factory=list)
    namespaces: list[str] | None = None
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    updated: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataPlaneState:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def pids(self) -> list[int]:
        out = [self.pid]
        out += [p for p in (self.haproxy_pid, self.prometheus_pid) if p]
        out += [int(s["pid"]) for s in self.standins if s.get("pid")]
        return out


def write_state(workdir: Path, state: DataPlaneState) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    tmp = workdir / (STATE_NAME + ".tmp")
    tmp.write_text(json.dumps(state.to_dict(), indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, workdir / STATE_NAME)


def read_state(workdir: Path) -> DataPlaneState | None:
    try:
        data = json.loads((workdir / STATE_NAME).read_text(encoding="utf-8"))
        return DataPlaneState.from_dict(data)
    except (OSError, ValueError, TypeError):
        return None


def supervisor_alive(pid: int) -> bool:
    """True when `pid` runs and is a data-plane supervisor (guards against a reused pid)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmd = proc.cmdline()
    except psutil.Error:
        return False
    return "dataplane" in cmd and "run" in cmd


# -- the supervisor -------------------------------------------------------------------------------


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
        self.proxy = HAProxy(workdir / "haproxy", ProxySettings(timeout_server_s=options.timeout_server_s))
        self.prom = Prometheus(workdir / "prometheus")
        self.cpu = CpuFeedback(core, options.cpu_period_s)
        self.server_states: dict[tuple[str, int], str] = {}
        self.runtime: PodRuntime | None = None
        self.state = DataPlaneState(pid=os.getpid(), status="starting", namespaces=options.namespaces)
        self.backends: dict[str, list[tuple[str, int]]] = {}

    def _destination_rules(self) -> dict[str, tuple[OutlierPolicy, float | None]]:
        """Outlier policy (and connect timeout) per service from the cluster's DestinationRules."""
        try:
            items = self.custom.list_cluster_custom_object(
                "networking.istio.io", "v1", "destinationrules", _request_timeout=10
            ).get("items", [])
        except ApiException as exc:
            if exc.status == 404:  # no CRD: no DestinationRule, no outlier detection
                return {}
            raise
        found: dict[str, tuple[OutlierPolicy, float | None]] = {}
        for dr in items:
            md = dr.get("metadata") or {}
            if self.options.namespaces and md.get("namespace") not in self.options.namespaces:
                continue
            host = str((dr.get("spec") or {}).get("host", ""))
            service = host.split(".", 1)[0]
            if service not in PROFILES:
                continue
            try:
                found[service] = (outlier_from_destination_rule(dr), connect_timeout_from_destination_rule(dr))
            except ValueError as exc:
                log.warning("ignoring outlierDetection: %s (no ejection for this service)", exc)
        return found

    def _service_proxies(self, rules: dict[str, tuple[OutlierPolicy, float | None]]) -> list[ServiceProxy]:
        out = []
        for service in PROFILES:
            policy, connect = rules.get(service, (OutlierPolicy(), None))
            out.append(
                ServiceProxy(
                    service,
                    self.state.frontends[service],
                    policy,
                    connect_timeout_s=connect if connect is not None else 1.0,
                )
            )
        return out

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state.frontends = {s: free_port() for s in PROFILES}
        rules = self._destination_rules()
        self.proxy.start(self._service_proxies(rules))
        self.state.haproxy_pid = self.proxy.pid
        self.state.haproxy_socket = str(self.proxy.sock)
        self.state.haproxy_stats_url = f"http://{LOOPBACK}:{self.proxy.stats_port}/stats"
        self.state.gateway_url = f"http://{LOOPBACK}:{self.state.frontends[GATEWAY]}"
        self.state.policies = {s: asdict(p) for s, (p, _) in rules.items()}
        if self.options.prometheus:
            self.prom.start(free_port(), self.proxy.stats_port)
            self.prom.wait_ready()
            self.state.prometheus_pid = self.prom.pid
            self.state.prometheus_url = self.prom.url
        upstreams = {upstream_env_name(s): f"http://{LOOPBACK}:{p}" for s, p in self.state.frontends.items()}
        self.runtime = PodRuntime(
            self.core,
            self.workdir / "standins",
            upstreams,
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
        self.state.haproxy_pid = self.proxy.pid
        self.state.updated = time.time()
        write_state(self.workdir, self.state)

    def _record_ejections(self, service: str) -> None:
        """Append the proxy's ejections (a server going DOWN on errors) and returns to the events file."""
        states = {port: st for (_, port), st in self.proxy.server_states(service).items()}
        events = []
        for port, st in states.items():
            before = self.server_states.get((service, port))
            if before == "UP" and st == "DOWN":
                events.append({"state": "down", "port": port})
            elif before == "DOWN" and st == "UP":
                events.append({"state": "up", "port": port})
            self.server_states[(service, port)] = st
        for key in [k for k in self.server_states if k[0] == service and k[1] not in states]:
            del self.server_states[key]
        if events:
            now = time.time()
            with (self.workdir / EJECTIONS_NAME).open("a", encoding="utf-8") as fh:
                for ev in events:
                    fh.write(json.dumps({"t": now, "kind": "ejection", "service": service,
                                         "backend": f"127.0.0.1:{ev['port']}", "state": ev["state"]}) + "\n")
            log.info("ejections in %s: %s", service, events)

    def tick(self) -> None:
        assert self.runtime is not None
        backends = self.runtime.reconcile()
        for service in PROFILES:
            addrs = backends.get(service, [])
            if addrs != self.backends.get(service, []):
                self.proxy.set_backends(service, addrs)
                log.info("backends of %s: %s", service, [p for _, p in addrs])
        self.backends = backends
        self.proxy.reap()
        for service in backends:
            restored = self.proxy.enforce_max_ejection(service)
            if restored:
                log.info("maxEjectionPercent: %s back in %s", [p for _, p in restored], service)
            self._record_ejections(service)
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

    def refresh_rules(self) -> None:
        rules = self._destination_rules()
        for svc in self._service_proxies(rules):
            if self.proxy.update_service(svc):
                log.info("outlier policy of %s now from %s", svc.service, svc.policy.source)
        self.state.policies = {s: asdict(p) for s, (p, _) in rules.items()}

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
        if self.runtime is not None:
            self.runtime.stop()
        self.proxy.stop()
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


# -- control from other processes ------------------------------------------------------------------


def dataplane_state(paths: ClusterPaths, workdir: Path | None = None) -> DataPlaneState | None:
    """The running data plane's state, or None when none runs."""
    state = read_state(workdir or default_workdir(paths))
    if state is None or not supervisor_alive(state.pid):
        return None
    return state


def start_dataplane(
    paths: ClusterPaths,
    options: DataPlaneOptions | None = None,
    workdir: Path | None = None,
    timeout: float = 90.0,
) -> DataPlaneState:
    """Start the supervisor detached (or reuse a running one) and wait until it serves."""
    workdir = workdir or default_workdir(paths)
    running = dataplane_state(paths, workdir)
    if running is not None and running.status == "running":
        return running
    if running is not None:
        stop_dataplane(paths, workdir)
    options = options or DataPlaneOptions()
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (workdir / STATE_NAME).unlink()
    env = settings().child_environment()
    if paths.root is not None:
        env["AIDEON_CACHE_DIR"] = str(paths.root)
    cmd = [*standin_command(), "dataplane", "run", "--workdir", str(workdir), *options.to_args()]
    log_path = workdir / "supervisor.log"
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or [""]
            raise InfrastructureError(f"the local data plane exited at start: {tail[0][:300]} (see {log_path})")
        state = read_state(workdir)
        if state is not None and state.pid == proc.pid and state.status == "running":
            return state
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    raise InfrastructureError(f"the local data plane did not start within {timeout:.0f}s (see {log_path})")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


_OURS = ("standin", "haproxy", "prometheus", "dataplane")


def _group_members(pgid: int) -> list[psutil.Process]:
    """Processes of the supervisor's process group that are ours (stand-ins, proxy, Prometheus)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if os.getpgid(proc.pid) != pgid or proc.status() == psutil.STATUS_ZOMBIE:
                continue
        except (OSError, psutil.Error):
            continue
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if any(word in cmdline for word in _OURS):
            found.append(proc)
    return found


def stop_dataplane(paths: ClusterPaths, workdir: Path | None = None, timeout: float = 20.0) -> None:
    """Stop the data plane and every process it started; no-op when none runs.

    SIGTERM to the supervisor (which stops its children), then SIGKILL to whatever of its
    process group or of the recorded pids is still there.
    """
    workdir = workdir or default_workdir(paths)
    state = read_state(workdir)
    if state is None:
        return
    if supervisor_alive(state.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while supervisor_alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    left = {p.pid: p for p in _group_members(state.pid)}
    for pid in state.pids():
        if pid not in left and _alive(pid):
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if any(word in " ".join(proc.cmdline()) for word in _OURS):
                    left[pid] = proc
    for proc in left.values():
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(list(left.values()), timeout=5)
    with contextlib.suppress(FileNotFoundError):
        (workdir / STATE_NAME).unlink()


def dataplane_env_lines(paths: ClusterPaths, workdir: Path | None = None) -> list[str]:
    """`export AIDEON_GATEWAY_URL=...` (and Prometheus) when a data plane runs; else nothing."""
    state = dataplane_state(paths, workdir)
    if state is None or not state.gateway_url:
        return []
    lines = [f"export AIDEON_GATEWAY_URL={state.gateway_url}"]
    if state.prometheus_url:
        lines.append(f"export AIDEON_PROMETHEUS_URL={state.prometheus_url}")
    return lines
