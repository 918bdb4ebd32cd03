"""The HAProxy configuration of the local data plane and the Istio policy it is rendered from.

One frontend and one backend per platform service, every bind on 127.0.0.1, and a backend per
DestinationRule subset a VirtualService route splits the service's traffic over (`traffic_split`). A backend is a fixed
set of server slots (`server-template`) that start disabled; `proxy.HAProxy` fills them in at run
time and re-renders this configuration only when a service needs more slots or a DestinationRule
changes.

Outlier detection from an Istio DestinationRule's `trafficPolicy.outlierDetection` is not HAProxy's:
the supervisor runs Envoy's algorithm (`outlier_detector`) on HAProxy's per-request log and the
stand-ins' reports of each attempt (every backend names itself in `POOL_HEADER`) and ejects
and returns servers over the runtime API. For that, every server of a backend with outlier
detection has an agent check (`agent-check`) whose agent port is a loopback port that refuses
connections (HAProxy ignores an agent it cannot reach), so the agent's state is only what the
supervisor forces with `set server B/S agent down|up`: a server forced down stays DOWN however its
`/ready` check goes, and counts in HAProxy's `chkdown`. Every server is also health-checked on
`GET /ready` (`READY_CHECK`), like a Kubernetes readiness probe: a server whose /ready fails is
out whatever outlier detection says.

Defaults when a service has no DestinationRule (or the CRD is absent): no outlier detection, as in
Istio. Fields a rule leaves out take Istio's defaults (see `outlier_from_destination_rule`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aideon_resilience.adapters.dataplane.outlier_detector import DetectorConfig
from aideon_resilience.adapters.standin.attempt_report import POOL_HEADER

LOOPBACK = "127.0.0.1"
MIN_SLOTS = 16
# /ready as a readiness probe: out after 3 failures 2 s apart, back after one pass
READY_CHECK = "check inter 2s rise 1 fall 3"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)(ms|s|m|h)\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


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

    A policy with no enforced detector (`consecutive_5xx == 0` and `consecutive_gateway == 0`) is
    no outlier detection at all, which is what Istio does for a service whose DestinationRule has
    no `outlierDetection` (or that has no DestinationRule): the proxy then only health-checks
    `/ready` and never ejects on errors. `detector_config` is what Istio programs into Envoy
    (see `outlier_detector`).
    """

    consecutive_5xx: int = 5
    interval_s: float = 10.0
    base_ejection_s: float = 30.0
    max_ejection_percent: int = 10
    source: str = "istio-defaults"
    consecutive_gateway: int = 0  # consecutiveGatewayErrors; 0: not enforced (Envoy's default)
    min_health_percent: int = 0  # Envoy's healthy_panic_threshold; 0: no panic mode

    @classmethod
    def off(cls, source: str) -> OutlierPolicy:
        return cls(consecutive_5xx=0, source=source)

    @property
    def enabled(self) -> bool:
        return self.consecutive_5xx > 0 or self.consecutive_gateway > 0

    def detector_config(self) -> DetectorConfig:
        return DetectorConfig(
            consecutive_5xx=self.consecutive_5xx,
            consecutive_gateway=self.consecutive_gateway,
            interval_s=self.interval_s,
            base_ejection_s=self.base_ejection_s,
            max_ejection_percent=self.max_ejection_percent,
            panic_threshold_percent=self.min_health_percent,
        )

    def haproxy_server_params(self, agent_port: int | None = None) -> str:
        """The `default-server` parameters of a backend under this policy (see the module docstring)."""
        if not self.enabled or agent_port is None:
            return READY_CHECK
        return f"{READY_CHECK} agent-check agent-addr {LOOPBACK} agent-port {agent_port} agent-inter 1h"


def _count(od: dict[str, Any], key: str, default: int, where: str) -> int:
    """A UInt32Value field (plain or `{value: N}`), or `default` when absent."""
    value = od.get(key, default)
    if isinstance(value, dict):  # UInt32Value wrapper form
        value = value.get("value", default)
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}.{key}: not an integer: {value!r}") from None
    if n < 0:
        raise ValueError(f"{where}.{key}: must not be negative, got {n}")
    return n


def _percent(od: dict[str, Any], key: str, default: int, where: str) -> int:
    value = od.get(key, default)
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}.{key}: not an integer: {value!r}") from None
    if not 0 <= n <= 100:
        raise ValueError(f"{where}.{key}: must be 0..100, got {n}")
    return n


def rule_name(obj: dict[str, Any]) -> str:
    """`namespace/name` of an Istio rule (DestinationRule, VirtualService), as messages name it."""
    md = obj.get("metadata") or {}
    return f"{md.get('namespace', '')}/{md.get('name', '')}"


def outlier_from_destination_rule(dr: dict[str, Any]) -> OutlierPolicy:
    """The outlierDetection of a DestinationRule as Istio programs it into Envoy.

    Missing fields take Istio's defaults (Envoy's, as Istio leaves them unset): consecutive5xxErrors
    5, consecutiveGatewayErrors not enforced, interval 10s, baseEjectionTime 30s,
    maxEjectionPercent 10 (also for 0: Istio sends it only when > 0), minHealthPercent 0 (no
    panic). Raises ValueError (naming the field) for a malformed field.
    """
    name = rule_name(dr)
    od = ((dr.get("spec") or {}).get("trafficPolicy") or {}).get("outlierDetection")
    if not od:
        return OutlierPolicy.off(f"DestinationRule {name} (no outlierDetection: no ejection)")
    base = OutlierPolicy()
    where = f"DestinationRule {name}: spec.trafficPolicy.outlierDetection"
    legacy = "consecutiveErrors" in od and "consecutive5xxErrors" not in od
    key = "consecutiveErrors" if legacy else "consecutive5xxErrors"
    n = _count(od, key, base.consecutive_5xx, where)
    gateway = _count(od, "consecutiveGatewayErrors", 0, where)
    if n < 1 and gateway < 1:
        raise ValueError(f"{where}.consecutive5xxErrors: must be at least 1 here, got {n}")
    pct = _percent(od, "maxEjectionPercent", base.max_ejection_percent, where)
    return OutlierPolicy(
        consecutive_5xx=n,
        interval_s=parse_duration(od.get("interval", "10s"), f"{where}.interval"),
        base_ejection_s=parse_duration(od.get("baseEjectionTime", "30s"), f"{where}.baseEjectionTime"),
        max_ejection_percent=pct or base.max_ejection_percent,
        source=f"DestinationRule {name}",
        consecutive_gateway=gateway,
        min_health_percent=_percent(od, "minHealthPercent", 0, where),
    )


def connect_timeout_from_destination_rule(dr: dict[str, Any]) -> float | None:
    tcp = (((dr.get("spec") or {}).get("trafficPolicy") or {}).get("connectionPool") or {}).get("tcp") or {}
    if "connectTimeout" not in tcp:
        return None
    try:
        return parse_duration(tcp["connectTimeout"], "connectionPool.tcp.connectTimeout")
    except ValueError:
        return None


@dataclass(frozen=True)
class BackendRetries:
    """HAProxy's retries of one backend, from the route's retry policy (`route_retries`): `count`
    retries, each to another server when there is one, on the `retry_on` keywords; `timeout_server_s`
    the per-try timeout (None: the proxy's `timeout server`)."""

    count: int
    retry_on: tuple[str, ...]
    timeout_server_s: float | None = None
    source: str = ""


# Istio's default retry policy (`route_retries.RetryPolicy()`) over HTTP/1.1: a pool given no
# route's policy (the data plane always gives one: its route's, or this same default)
DEFAULT_RETRIES = BackendRetries(2, ("conn-failure", "503"), None, "Istio's default retry policy")


@dataclass
class ServiceProxy:
    """One pool of the proxy: a platform service (its frontend and backend), or one subset of a
    service (`frontend` False: a backend only, which the service's frontend routes to).

    `routes` is the service's weighted split over pools (`traffic_split`): (pool, weight) per
    destination; empty, everything goes to the service's own backend."""

    service: str
    port: int
    policy: OutlierPolicy = field(default_factory=lambda: OutlierPolicy.off("no DestinationRule: no ejection"))
    slots: int = MIN_SLOTS
    connect_timeout_s: float = 1.0
    routes: tuple[tuple[str, int], ...] = ()
    frontend: bool = True
    retries: BackendRetries = DEFAULT_RETRIES


@dataclass(frozen=True)
class ProxySettings:
    timeout_server_s: float = 5.0
    timeout_client_s: float = 30.0
    check_timeout_s: float = 1.0


def backend_name(service: str) -> str:
    return f"be_{service}"


def render_config(
    services: list[ServiceProxy],
    stats_socket: Path,
    stats_port: int,
    settings: ProxySettings = ProxySettings(),
    state_file: Path | None = None,
    request_log: tuple[int, str] | None = None,
    agent_port: int | None = None,
) -> str:
    """The whole haproxy.cfg of the data plane: every bind is on 127.0.0.1.

    `request_log` is (UDP port on 127.0.0.1, log-format) for the per-request log the outlier
    detection reads; `agent_port` the refusing loopback port of the agent checks.
    """
    lines = _global_lines(stats_socket, stats_port, settings, state_file, request_log)
    for svc in sorted(services, key=lambda s: s.service):
        lines += _service_lines(svc, agent_port)
    return "\n".join(lines)


def _global_lines(
    stats_socket: Path,
    stats_port: int,
    settings: ProxySettings,
    state_file: Path | None,
    request_log: tuple[int, str] | None,
) -> list[str]:
    """`global`, `defaults` and the stats frontend."""
    return [
        "# Rendered by aideon-resilience (local data plane); do not edit.",
        "global",
        f"    stats socket {stats_socket} mode 600 level admin expose-fd listeners",
        *([f"    server-state-file {state_file}"] if state_file else []),
        "    stats timeout 10s",
        "    maxconn 4096",
        "    log stderr format short local0 notice",
        # one datagram per request, info level only (state changes stay on stderr)
        *([f"    log {LOOPBACK}:{request_log[0]} len 1024 format raw local0 info info"] if request_log else []),
        "",
        "defaults",
        "    mode http",
        *(["    load-server-state-from-file global"] if state_file else []),
        "    log global",
        *([f'    log-format "{request_log[1]}"'] if request_log else []),
        "    option dontlognull",
        "    option http-keep-alive",
        "    http-reuse safe",
        "    option redispatch 1",  # every retry to another server when there is one
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


def _frontend_lines(svc: ServiceProxy) -> list[str]:
    """The service's frontend: its own backend, or a weighted pick among its routes' pools per
    request (`rand(total)` against the cumulative weights, as Envoy's weighted_clusters)."""
    lines = [f"frontend fe_{svc.service}", f"    bind {LOOPBACK}:{svc.port}"]
    routes = [(pool, w) for pool, w in svc.routes if w > 0]
    if not routes:
        return [*lines, f"    default_backend {backend_name(svc.service)}", ""]
    total = sum(w for _, w in routes)
    lines.append(f"    http-request set-var(txn.route) rand({total})")
    upto = 0
    for pool, w in routes[:-1]:
        upto += w
        lines.append(f"    use_backend {backend_name(pool)} if {{ var(txn.route) -m int lt {upto} }}")
    return [*lines, f"    default_backend {backend_name(routes[-1][0])}", ""]


def _retry_lines(r: BackendRetries) -> list[str]:
    """The route's retries (`route_retries`): count, conditions and per-try timeout."""
    return [
        f"    # retries: {r.source}" if r.source else "    # retries",
        f"    retries {r.count}",
        f"    retry-on {' '.join(r.retry_on) if r.retry_on else 'none'}",
        *([f"    timeout server {_ms(r.timeout_server_s)}"] if r.timeout_server_s else []),
    ]


def _service_lines(svc: ServiceProxy, agent_port: int | None) -> list[str]:
    """The frontend (unless a subset pool) and the backend of one pool."""
    be = backend_name(svc.service)
    p = svc.policy
    return [
        *(_frontend_lines(svc) if svc.frontend else []),
        f"backend {be}",
        (
            f"    # outlierDetection from {p.source}: consecutive5xxErrors={p.consecutive_5xx} "
            f"interval={p.interval_s:g}s baseEjectionTime={p.base_ejection_s:g}s "
            f"maxEjectionPercent={p.max_ejection_percent} consecutiveGatewayErrors={p.consecutive_gateway} "
            f"minHealthPercent={p.min_health_percent} (Envoy's algorithm, applied by the supervisor)"
            if p.enabled
            else f"    # {p.source}"
        ),
        "    balance leastconn",
        *_retry_lines(svc.retries),
        # names the pool to the stand-in, which reports each attempt it answers (`attempt_report`)
        f"    http-request set-header {POOL_HEADER} {be}",
        f"    timeout connect {_ms(svc.connect_timeout_s)}",
        "    option httpchk",
        "    http-check send meth GET uri /ready",
        "    http-check expect status 200",
        f"    default-server {p.haproxy_server_params(agent_port)}",
        f"    server-template s 1-{svc.slots} {LOOPBACK}:9 disabled",
        "",
    ]

