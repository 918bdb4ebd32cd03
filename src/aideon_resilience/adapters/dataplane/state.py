"""What the local data plane leaves on disk: its options, its state file and the proxy's ejections and traffic.

The supervisor (`supervisor.DataPlane`) writes `state.json` (pids, ports, gateway URL, every
stand-in) and `ejections.jsonl` in its work directory, `<cluster cache>/dataplane/<cluster name>/`
by default; other processes (`control`, the gate) read them.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from aideon_resilience.adapters.localcluster.paths import ClusterPaths
from aideon_resilience.core.evidence.timeline import TimelineEvent, parse_event

STATE_NAME = "state.json"
EJECTIONS_NAME = "ejections.jsonl"


def dataplane_events(
    paths: ClusterPaths, since: float, until: float, workdir: Path | None = None
) -> list[TimelineEvent]:
    """What the proxy recorded between `since` and `until`: outlier detection's ejections and
    returns, and each pool's traffic (a line the supervisor could not finish writing is left out).

    Each line: `t`, `kind: ejection`, `service`, `backend` (`127.0.0.1:<port>`), `state` (`down`
    ejected, `up` returned) and `ejection` (how many times that backend has been ejected, this one
    included); a `down` line also has `ejection_s` (how long it stays out at least: baseEjectionTime
    x multiplier, capped), `reason` (`consecutive_5xx` | `consecutive_gateway_failure`) and `panic`
    (the pool was in panic mode, so traffic still reached it); an `up` line has `ejected_s` (how
    long it was out). A `refused` line is an ejection maxEjectionPercent did not allow (its
    `reason` is the one the ejection would have had, `ejection` the backend's count so far).

    A `kind: pool_traffic` line: per pool (`service`: a service, or one subset as `api-gateway.v2`)
    that answered in the `period_s` before `t`, its `responses`, `errors` (5xx) and `no_host` (503s
    with no host to send to) as the clients got them, its `attempts` and `attempt_errors` (5xx) as
    its hosts answered them (retries included), and its `hosts`, `ejected` and `panic` at `t`.
    """
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
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # per pool with a DestinationRule
    # per service whose VirtualService splits it over subsets: [pool, weight] per destination
    routes: dict[str, list[Any]] = field(default_factory=dict)
    retries: dict[str, str] = field(default_factory=dict)  # per service: its route's retry policy, in words
    # per pool with outlier detection: ejected servers, panic, ejections refused by maxEjectionPercent
    outlier: dict[str, dict[str, Any]] = field(default_factory=dict)
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

