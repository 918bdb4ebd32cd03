"""HAProxy in front of each platform service of the local data plane, on loopback ports.

One frontend and one backend per platform service. A backend is a fixed set of server slots
(`server-template`) whose addresses are filled in and emptied at run time over HAProxy's runtime
API (unix stats socket: `set server B/S addr 127.0.0.1 port P`, `set server B/S state ready|maint`,
`set server B/S health up`), so the backends follow the live stand-in processes of a service's
Ready pods without a reload and without dropping connections. Only when a service needs more
slots than the configuration has, or a DestinationRule changes, is the configuration re-rendered
and HAProxy reloaded gracefully (`haproxy -x SOCK -sf OLD`: the new process takes the listening
sockets over, the old one finishes its connections; the servers' addresses and states are carried
over through `server-state-file`, saved from `show servers state` just before).

Passive ejection from an Istio DestinationRule's `trafficPolicy.outlierDetection`:

| Istio                         | HAProxy (per server)                                           |
|-------------------------------|----------------------------------------------------------------|
| consecutive5xxErrors: N       | `observe layer7 error-limit N on-error mark-down`              |
| (gateway errors, timeouts)    | HAProxy's layer-7 observation also counts response timeouts    |
| interval: I                   | `inter I` (health-check period of an UP server)                |
| baseEjectionTime: T           | `rise R fastinter T/R downinter T/R`: an ejected server needs  |
|                               | R passing checks spaced T/R apart, so it is out about T        |
| maxEjectionPercent: M         | enforced by the supervisor, not by HAProxy (see below)         |
| connectionPool.tcp.connectTimeout | `timeout connect`                                          |

What cannot be mapped exactly:
- Istio ejects for `baseEjectionTime x number of ejections` and then returns the host
  unconditionally; HAProxy returns a marked-down server only when its active check (`GET /ready`)
  passes. A host that fails requests but answers /ready comes back after ~T and is ejected again
  after N more errors, which matches Istio's behaviour; a host whose /ready also fails stays out.
- `interval` in Istio is the period of the ejection sweep; HAProxy observes every response as it
  comes, so ejection happens on the N-th consecutive error, not at the next sweep.
- A passing active check resets HAProxy's consecutive-error count (observed with HAProxy 2.6):
  errors of a server spaced wider than `inter` may never add up to N, where Envoy would count them.
  A short `interval` therefore makes ejection of slowly failing servers (e.g. hanging ones, whose
  errors come one `timeout server` apart) less likely; Istio's default of 10s is fine.
- `maxEjectionPercent` has no HAProxy equivalent: HAProxy may mark every server of a backend down.
  The supervisor enforces it after the fact (`HAProxy.enforce_max_ejection`, every tick): like
  Envoy, ejecting is allowed while the ejected share is below M, i.e. at most ceil(n*M/100) of n
  servers stay DOWN; servers beyond that are forced back up (`set server ... health up`), most
  recently ejected first. Between HAProxy's mark-down and the next tick (<= 0.5 s) more servers
  than that can be out.
- Consecutive errors are counted per server by HAProxy (as in Envoy), but HAProxy also counts a
  response timeout (`timeout server`) as a layer-7 error, which Envoy counts as a gateway error.

Defaults when a service has no DestinationRule (or the CRD is absent) are Istio's documented
defaults: 5 consecutive 5xx, interval 10s, baseEjectionTime 30s, maxEjectionPercent 10.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aideon_resilience.errors import InfrastructureError
from aideon_resilience.settings import settings

LOOPBACK = "127.0.0.1"
MIN_SLOTS = 16
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)(ms|s|m|h)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_OP_STATES = {"0": "DOWN", "1": "STARTING", "2": "UP", "3": "STOPPING"}
_ADMIN_MAINT = 0x01 | 0x02 | 0x20  # forced, inherited, resolution maintenance


def parse_duration(value: object, what: str) -> float:
    """Seconds of a protobuf-style duration ("10s", "500ms", "1m"); ValueError naming `what`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{what}: not a duration: {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


@dataclass(frozen=True)
class OutlierPolicy:
    """Istio outlierDetection (fields a DestinationRule leaves out take Istio's documented defaults).

    `consecutive_5xx == 0` is no outlier detection at all, which is what Istio does for a service
    whose DestinationRule has no `outlierDetection` (or that has no DestinationRule): the proxy
    then only health-checks `/ready` and never ejects on errors.
    """

    consecutive_5xx: int = 5
    interval_s: float = 10.0
    base_ejection_s: float = 30.0
    max_ejection_percent: int = 10
    source: str = "istio-defaults"

    @classmethod
    def off(cls, source: str) -> OutlierPolicy:
        return cls(consecutive_5xx=0, source=source)

    @property
    def enabled(self) -> bool:
        return self.consecutive_5xx > 0

    def haproxy_server_params(self) -> str:
        """The `default-server` parameters this policy maps to (see the module docstring)."""
        if not self.enabled:
            return f"check inter {_ms(self.interval_s)} rise 2 fall 3"
        rise = 2 if self.base_ejection_s >= 1.0 else 1
        back = self.base_ejection_s / rise
        return (
            f"check inter {_ms(self.interval_s)} fastinter {_ms(back)} downinter {_ms(back)} "
            f"rise {rise} fall 3 observe layer7 error-limit {self.consecutive_5xx} on-error mark-down"
        )


def outlier_from_destination_rule(dr: dict[str, Any]) -> OutlierPolicy:
    """The outlierDetection of a DestinationRule; missing fields take Istio's defaults.

    Raises ValueError (naming the field) for a malformed field.
    """
    name = f"{(dr.get('metadata') or {}).get('namespace', '')}/{(dr.get('metadata') or {}).get('name', '')}"
    od = ((dr.get("spec") or {}).get("trafficPolicy") or {}).get("outlierDetection")
    if not od:
        return OutlierPolicy.off(f"DestinationRule {name} (no outlierDetection: no ejection)")
    base = OutlierPolicy()
    where = f"DestinationRule {name}: spec.trafficPolicy.outlierDetection"
    errors = od.get("consecutive5xxErrors", od.get("consecutiveErrors", base.consecutive_5xx))
    if isinstance(errors, dict):  # UInt32Value wrapper form
        errors = errors.get("value", base.consecutive_5xx)
    try:
        n = int(errors)
    except (TypeError, ValueError):
        raise ValueError(f"{where}.consecutive5xxErrors: not an integer: {errors!r}") from None
    if n < 1:
        raise ValueError(f"{where}.consecutive5xxErrors: must be at least 1 here, got {n}")
    pct = od.get("maxEjectionPercent", base.max_ejection_percent)
    try:
        pct_i = int(pct)
    except (TypeError, ValueError):
        raise ValueError(f"{where}.maxEjectionPercent: not an integer: {pct!r}") from None
    if not 0 <= pct_i <= 100:
        raise ValueError(f"{where}.maxEjectionPercent: must be 0..100, got {pct_i}")
    return OutlierPolicy(
        consecutive_5xx=n,
        interval_s=parse_duration(od.get("interval", "10s"), f"{where}.interval"),
        base_ejection_s=parse_duration(od.get("baseEjectionTime", "30s"), f"{where}.baseEjectionTime"),
        max_ejection_percent=pct_i,
        source=f"DestinationRule {name}",
    )


def connect_timeout_from_destination_rule(dr: dict[str, Any]) -> float | None:
    tcp = (((dr.get("spec") or {}).get("trafficPolicy") or {}).get("connectionPool") or {}).get("tcp") or {}
    if "connectTimeout" not in tcp:
        return None
    try:
        return parse_duration(tcp["connectTimeout"], "connectionPool.tcp.connectTimeout")
    except ValueError:
        return None


@dataclass
class ServiceProxy:
    """One platform service as the proxy sees it."""

    service: str
    port: int
    policy: OutlierPolicy = field(default_factory=lambda: OutlierPolicy.off("no DestinationRule: no ejection"))
    slots: int = MIN_SLOTS
    connect_timeout_s: float = 1.0


@dataclass(frozen=True)
class ProxySettings:
    timeout_server_s: float = 5.0
    timeout_client_s: float = 30.0
    check_timeout_s: float = 1.0
    retries: int = 2


def backend_name(service: str) -> str:
    return f"be_{service}"


def render_config(
    services: list[ServiceProxy],
    stats_socket: Path,
    stats_port: int,
    settings: ProxySettings = ProxySettings(),
    state_file: Path | None = None,
) -> str:
    """The whole haproxy.cfg of the data plane: every bind is on 127.0.0.1."""
    lines = [
        "# Rendered by aideon-resilience (local data plane); do not edit.",
        "global",
        f"    stats socket {stats_socket} mode 600 level admin expose-fd listeners",
        *([f"    server-state-file {state_file}"] if state_file else []),
        "    stats timeout 10s",
        "    maxconn 4096",
        "    log stderr format short local0 notice",
        "",
        "defaults",
        "    mode http",
        *(["    load-server-state-from-file global"] if state_file else []),
        "    log global",
        "    option dontlognull",
        "    option http-keep-alive",
        "    http-reuse safe",
        f"    retries {settings.retries}",
        "    option redispatch 1",
        "    retry-on conn-failure empty-response",
        "    timeout connect 1s",
        f"    timeout client {_ms(settings.timeout_client_s)}",
        f"    timeout server {_ms(settings.timeout_server_s)}",
        f"    timeout check {_ms(settings.check_timeout_s)}",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 10s",
        "    timeout queue 2s",
        "",
        "frontend stats",
        f"    bind {LOOPBACK}:{stats_port}",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "    stats enable",
        "    stats uri /stats",
        "    stats refresh 5s",
        "",
    ]
    for svc in sorted(services, key=lambda s: s.service):
        be = backend_name(svc.service)
        p = svc.policy
        lines += [
            f"frontend fe_{svc.service}",
            f"    bind {LOOPBACK}:{svc.port}",
            f"    default_backend {be}",
            "",
            f"backend {be}",
            (
                f"    # outlierDetection from {p.source}: consecutive5xxErrors={p.consecutive_5xx} "
                f"interval={p.interval_s:g}s baseEjectionTime={p.base_ejection_s:g}s "
                f"maxEjectionPercent={p.max_ejection_percent} (enforced by the supervisor)"
                if p.enabled
                else f"    # {p.source}"
            ),
            "    balance leastconn",
            f"    timeout connect {_ms(svc.connect_timeout_s)}",
            "    option httpchk",
            "    http-check send meth GET uri /ready",
            "    http-check expect status 200",
            f"    default-server {p.haproxy_server_params()}",
            f"    server-template s 1-{svc.slots} {LOOPBACK}:9 disabled",
            "",
        ]
    return "\n".join(lines)


def runtime_command(sock_path: Path, command: str, timeout: float = 3.0) -> str:
    """Send one command to HAProxy's runtime API (unix socket) and return its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def haproxy_binary() -> str:
    for cand in (settings().text("AIDEON_HAPROXY") or "", "/usr/sbin/haproxy", "/usr/bin/haproxy"):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise InfrastructureError("haproxy is not installed (install it: apt-get update && apt-get install -y haproxy)")


class HAProxy:
    """A HAProxy process of the data plane and the slot assignment of each backend."""

    def __init__(self, workdir: Path, settings: ProxySettings = ProxySettings()) -> None:
        self.workdir = workdir
        self.settings = settings
        self.config_path = workdir / "haproxy.cfg"
        self.sock = workdir / "haproxy.sock"
        self.log_path = workdir / "haproxy.log"
        self.state_path = workdir / "servers.state"
        self.stats_port = 0
        self.services: dict[str, ServiceProxy] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.old: list[subprocess.Popen[bytes]] = []
        # backend -> slot number -> (host, port)
        self.assigned: dict[str, dict[int, tuple[str, int]]] = {}

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self, services: list[ServiceProxy], stats_port: int = 0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stats_port = stats_port or free_port()
        self.services = {s.service: s for s in services}
        self._launch()

    def _render(self) -> str:
        return render_config(
            list(self.services.values()), self.sock, self.stats_port, self.settings, self.state_path
        )

    def _launch(self) -> None:
        text = self._render()
        self.config_path.write_text(text, encoding="utf-8")
        binary = haproxy_binary()
        check = subprocess.run([binary, "-c", "-q", "-f", str(self.config_path)], capture_output=True, text=True)
        if check.returncode != 0:
            raise InfrastructureError(f"haproxy rejected {self.config_path}: {check.stderr.strip()[:300]}")
        cmd = [binary, "-db", "-f", str(self.config_path)]
        previous = self.proc
        if previous is None:
            self.state_path.write_text("1\n", encoding="utf-8")
        else:
            # The new process starts with the live servers (addresses, states) of the old one, so no
            # request meets an empty backend between the takeover and the replay below.
            self.state_path.write_text(runtime_command(self.sock, "show servers state"), encoding="utf-8")
            cmd += ["-x", str(self.sock), "-sf", str(previous.pid)]
            self.old.append(previous)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise InfrastructureError(f"haproxy exited at start (see {self.log_path})")
            with contextlib.suppress(OSError):
                if "Name:" in runtime_command(self.sock, "show info", 1.0):
                    break
            if time.monotonic() > deadline:
                raise InfrastructureError(f"haproxy did not open its runtime socket {self.sock}")
            time.sleep(0.05)
        # Slots of the new process start disabled: put the live assignments back.
        current = self.assigned
        self.assigned = {}
        for service, slots in current.items():
            self._apply(service, list(slots.values()))
        self.reap()

    def reload(self) -> None:
        if self.proc is None:
            raise InfrastructureError("haproxy is not running")
        self._launch()

    def reap(self) -> None:
        self.old = [p for p in self.old if p.poll() is None]

    def stop(self) -> None:
        for p in [*self.old, *([self.proc] if self.proc else [])]:
            if p.poll() is None:
                p.send_signal(signal.SIGUSR1)  # soft stop
        for p in [*self.old, *([self.proc] if self.proc else [])]:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.proc = None
        self.old = []

    # -- runtime changes ------------------------------------------------------------------------
    def cmd(self, command: str) -> str:
        out = runtime_command(self.sock, command)
        return out.strip()

    def update_service(self, svc: ServiceProxy) -> bool:
        """Adopt a changed policy/timeout for a service; True when HAProxy was reloaded."""
        old = self.services.get(svc.service)
        svc.slots = max(svc.slots, old.slots if old else MIN_SLOTS)
        self.services[svc.service] = svc
        if old is not None and (old.policy, old.connect_timeout_s, old.port) == (
            svc.policy,
            svc.connect_timeout_s,
            svc.port,
        ):
            return False
        self.reload()
        return True

    def set_backends(self, service: str, addrs: list[tuple[str, int]]) -> None:
        """Make `addrs` the servers of the service's backend (only changed slots are touched)."""
        svc = self.services[service]
        if len(addrs) > svc.slots:
            svc.slots = max(len(addrs), svc.slots * 2)
            self.reload()
        self._apply(service, addrs)

    def _apply(self, service: str, addrs: list[tuple[str, int]]) -> None:
        be = backend_name(service)
        slots = self.assigned.setdefault(service, {})
        wanted = set(addrs)
        for slot, addr in list(slots.items()):
            if addr not in wanted:
                # No new requests; connections in progress finish.
                self.cmd(f"set server {be}/s{slot} state maint")
                del slots[slot]
        have = set(slots.values())
        free = [n for n in range(1, self.services[service].slots + 1) if n not in slots]
        for addr in addrs:
            if addr in have:
                continue
            slot = free.pop(0)
            host, port = addr
            self.cmd(f"set server {be}/s{slot} addr {host} port {port}")
            self.cmd(f"set server {be}/s{slot} state ready")
            # The runtime added it because it answered /ready: no need to wait for `rise` checks.
            self.cmd(f"set server {be}/s{slot} health up")
            slots[slot] = addr

    def enforce_max_ejection(self, service: str) -> list[tuple[str, int]]:
        """Force servers back up beyond the policy's maxEjectionPercent; returns those restored."""
        svc = self.services[service]
        slots = self.assigned.get(service, {})
        if not slots:
            return []
        out = runtime_command(self.sock, f"show servers state {backend_name(service)}")
        down: list[tuple[int, int]] = []  # (seconds since last change, slot)
        header: list[str] = []
        for line in out.splitlines():
            if line.startswith("# "):
                header = line[2:].split()
                continue
            row = dict(zip(header, line.split(), strict=False))
            if "srv_name" not in row or not row["srv_name"].startswith("s"):
                continue
            slot = int(row["srv_name"][1:])
            if slot in slots and row["srv_op_state"] == "0" and not int(row["srv_admin_state"]) & _ADMIN_MAINT:
                down.append((int(row["srv_time_since_last_change"]), slot))
        allowed = max_ejected(len(slots), svc.policy.max_ejection_percent)
        restored = []
        for _, slot in sorted(down)[: max(0, len(down) - allowed)]:
            self.cmd(f"set server {backend_name(service)}/s{slot} health up")
            restored.append(slots[slot])
        return restored

    def server_states(self, service: str) -> dict[tuple[str, int], str]:
        """State of each assigned server (see `backend_status`)."""
        by_port = backend_status(self.sock, service)
        return {addr: by_port.get(addr[1], "?") for addr in self.assigned.get(service, {}).values()}


def backend_status(sock_path: Path, service: str) -> dict[int, str]:
    """Port -> state (UP, DOWN, MAINT, STARTING, STOPPING) of the servers that have an address.

    Reads `show servers state BACKEND` (space-separated, fixed columns) over the runtime socket;
    slots never assigned (port 9) are left out.
    """
    out = runtime_command(sock_path, f"show servers state {backend_name(service)}")
    found: dict[int, str] = {}
    header: list[str] = []
    for line in out.splitlines():
        if line.startswith("# "):
            header = line[2:].split()
            continue
        parts = line.split()
        if not header or len(parts) < len(header):
            continue
        row = dict(zip(header, parts, strict=False))
        port = int(row["srv_port"])
        if port == 9:
            continue
        admin = int(row["srv_admin_state"])
        found[port] = "MAINT" if admin & _ADMIN_MAINT else _OP_STATES.get(row["srv_op_state"], "?")
    return found


def max_ejected(servers: int, max_ejection_percent: int) -> int:
    """Servers that may be ejected at once: Envoy ejects while the ejected share is below M %."""
    if servers <= 0 or max_ejection_percent <= 0:
        return 0
    return min(servers, math.ceil(servers * max_ejection_percent / 100))
