"""Capacity plan toward N concurrent users: load workers, service replicas, nodes, and what the bounds allow.

Inputs are plain data: the measured capacity of one Locust worker process (`capacity.json`, from
the benchmarks), the per-service profiles (CPU per request) and journey mix (`core.profiles`), and
for each service of an environment its HPA bounds, CPU request and anti-affinity, with the
environment's declared node count and allocatable CPU. The plan says plainly where a declared
bound (an HPA's maxReplicas, required anti-affinity over too few nodes, the node count) caps the
users below N. The CPU per request comes from the stand-in profiles, not from a measurement of the
real services; the plan says so wherever it prints a figure derived from them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aideon_resilience.core.files import mapping, parse, read_text
from aideon_resilience.core.profiles import PROFILES, replica_rps, service_rps_per_user
from aideon_resilience.errors import InputFileError

DEFAULT_TARGET_UTILIZATION = 0.8


@dataclass(frozen=True)
class WorkerCapacity:
    """What one Locust worker process (one CPU core) carries at no more than 80% CPU."""

    users_per_worker: int
    rps_per_worker: float
    memory_per_user_kib: float
    worker_base_memory_mib: float
    worker_cpu_millis: int = 1000
    max_workers_per_master: int = 100  # measured: benchmarks/bench_locust_master.py
    measured: str = ""


def load_capacity(path: Path | None = None) -> WorkerCapacity:
    """The committed figures (`core/plan/capacity.json`) or a file with the same fields."""
    if path is None:
        text = resources.files("aideon_resilience.core.plan").joinpath("capacity.json").read_text(encoding="utf-8")
        source: object = "aideon_resilience/core/plan/capacity.json"
    else:
        text = read_text(path, "no such capacity file")
        source = path
    data = mapping(parse(text, source, "json"), source, "an object with a `worker` object")
    worker = data.get("worker")
    if not isinstance(worker, dict):
        raise InputFileError(source, "expected an object with a `worker` object", field="worker")
    fields = {
        "users_per_worker": int,
        "rps_per_worker": float,
        "memory_per_user_kib": float,
        "worker_base_memory_mib": float,
    }
    values: dict[str, Any] = {}
    for name, kind in fields.items():
        raw = worker.get(name)
        if not isinstance(raw, int | float) or isinstance(raw, bool) or raw <= 0:
            raise InputFileError(source, "must be a positive number", field=f"worker.{name}")
        values[name] = kind(raw)
    for name in ("worker_cpu_millis", "max_workers_per_master"):
        raw = worker.get(name, data.get(name))
        if raw is not None:
            if not isinstance(raw, int) or raw <= 0:
                raise InputFileError(source, "must be a positive whole number", field=f"worker.{name}")
            values[name] = raw
    return WorkerCapacity(measured=str(data.get("measured", "")), **values)


@dataclass(frozen=True)
class ServiceBounds:
    """What an environment declares for one service."""

    name: str
    cpu_request_millis: float
    min_replicas: int
    max_replicas: int  # HPA maxReplicas, or the fixed replica count when there is no HPA
    has_hpa: bool = True
    target_utilization: float = DEFAULT_TARGET_UTILIZATION
    required_anti_affinity: bool = False
    service: str | None = None  # the service whose pods it runs (`app.kubernetes.io/name`), when not `name`

    @property
    def companion_of(self) -> str | None:
        """The planned service this workload runs more pods of (a canary), else None."""
        if self.name in PROFILES or self.service is None or self.service == self.name:
            return None
        return self.service if self.service in PROFILES else None


@dataclass(frozen=True)
class ClusterBounds:
    environment: str
    nodes: int
    node_cpu_millis: int
    zones: int = 1

    @property
    def nodes_after_zone_loss(self) -> int:
        """Nodes left when the largest zone is lost (all of them with a single zone)."""
        return self.nodes - math.ceil(self.nodes / self.zones) if self.zones > 1 else self.nodes


SOURCES = {
    "cpu_per_request": "stand-in profiles (core/profiles.py), not measured on the real services",
    "traffic": "journey mix and think time of core/profiles.py (the locustfile uses the same)",
    "worker_capacity": "Locust worker benchmark (core/plan/capacity.json)",
}


@dataclass
class ServicePlan:
    name: str
    rps: float
    replica_rps: float
    replicas_needed: int
    min_replicas: int
    max_replicas: int
    has_hpa: bool
    replica_bound: int  # replicas the declarations allow (HPA max, and nodes under required anti-affinity)
    users_cap: int | None  # users the bound serves (None: no traffic reaches the service)
    limited_by: str | None
    cpu_millis_needed: float

    @property
    def reaches(self) -> bool:
        return self.replicas_needed <= self.replica_bound

    @property
    def headroom(self) -> float | None:
        """The replica bound over the replicas needed (None when only the minimum is needed)."""
        if self.rps <= 0 or self.replicas_needed <= self.min_replicas:
            return None
        return self.replica_bound / self.replicas_needed


@dataclass
class Plan:
    users: int
    environment: str
    rps_per_user: float
    gateway_rps: float
    workers_needed: int
    worker_cpu_millis: int
    worker_memory_mib: int
    masters_needed: int
    capacity_measured: str
    services: list[ServicePlan]
    nodes_declared: int
    node_cpu_millis: int
    nodes_needed: int
    nodes_users_cap: int
    reachable_users: int
    zones: int = 1
    nodes_after_zone_loss: int = 0
    pods_at_maxima: int = 0
    cpu_millis_at_maxima: float = 0.0
    missing_services: list[str] = field(default_factory=list)
    unprofiled_workloads: list[str] = field(default_factory=list)
    # workloads running more pods of a planned service (a canary): workload -> service; their fixed
    # replicas count toward the nodes needed, and the service's plan carries all of its traffic
    companion_workloads: dict[str, str] = field(default_factory=dict)

    @property
    def reaches(self) -> bool:
        return self.reachable_users >= self.users

    def limits(self) -> list[str]:
        """One plain sentence per declared bound that cannot reach the target."""
        out: list[str] = []
        for s in self.services:
            if not s.reaches:
                out.append(
                    f"{s.name}: needs {s.replicas_needed:,} replicas, {s.limited_by} → caps at {s.users_cap:,} users"
                )
        if self.nodes_needed > self.nodes_declared:
            out.append(
                f"nodes: the replicas needed request {self.nodes_needed:,} nodes of {self.node_cpu_millis}m CPU, "
                f"the environment declares {self.nodes_declared} → caps at {self.nodes_users_cap:,} users"
            )
        return out


def workers_needed(users: int, capacity: WorkerCapacity) -> int:
    """Locust worker processes that carry `users` by the measured capacity (at least one)."""
    return max(1, math.ceil(users / capacity.users_per_worker))


def _floor_users(value: float) -> int:
    return int(value) if math.isfinite(value) else 2**63 - 1


def _service_plan(s: ServiceBounds, rate_per_user: float, users: int, cluster: ClusterBounds) -> ServicePlan:
    """Replicas one service needs for `users`, and what bounds it (its HPA maximum, or required
    anti-affinity over the declared nodes)."""
    rps = rate_per_user * users
    cap_rps = replica_rps(PROFILES[s.name], s.cpu_request_millis, s.target_utilization)
    needed = max(s.min_replicas, math.ceil(rps / cap_rps) if rps > 0 else 0)
    bound = s.max_replicas
    limited = f"HPA maxReplicas is {s.max_replicas}" if s.has_hpa else f"fixed at {s.max_replicas} replicas"
    if s.required_anti_affinity and cluster.nodes < bound:
        bound = cluster.nodes
        limited = (
            f"required anti-affinity over {cluster.nodes} nodes allows {bound} "
            f"(HPA maxReplicas is {s.max_replicas})"
        )
    return ServicePlan(
        name=s.name,
        rps=round(rps, 1),
        replica_rps=round(cap_rps, 1),
        replicas_needed=needed,
        min_replicas=s.min_replicas,
        max_replicas=s.max_replicas,
        has_hpa=s.has_hpa,
        replica_bound=bound,
        users_cap=_floor_users(bound * cap_rps / rate_per_user) if rate_per_user > 0 else None,
        limited_by=limited if needed > bound else None,
        cpu_millis_needed=needed * s.cpu_request_millis,
    )


def make_plan(
    users: int,
    capacity: WorkerCapacity,
    services: list[ServiceBounds],
    cluster: ClusterBounds,
    rps_per_user: dict[str, float] | None = None,
) -> Plan:
    if users <= 0:
        raise ValueError("users must be positive")
    per_user = service_rps_per_user() if rps_per_user is None else rps_per_user
    gateway_per_user = max(per_user.values(), default=0.0)
    workers = workers_needed(users, capacity)
    users_on_worker = min(users, capacity.users_per_worker)
    worker_mem = math.ceil(capacity.worker_base_memory_mib + users_on_worker * capacity.memory_per_user_kib / 1024)
    plans = [_service_plan(s, per_user.get(s.name, 0.0), users, cluster) for s in services if s.name in PROFILES]
    # CPU each user costs across the services, at the HPAs' target utilization
    cpu_per_user = sum(
        per_user.get(s.name, 0.0) / replica_rps(PROFILES[s.name], s.cpu_request_millis, s.target_utilization)
        * s.cpu_request_millis
        for s in services if s.name in PROFILES and per_user.get(s.name, 0.0) > 0
    )
    declared = {s.name for s in services}
    companions = {s.name: s.companion_of for s in services if s.companion_of}
    fixed_cpu = sum(s.min_replicas * s.cpu_request_millis for s in services if s.name in companions)
    total_cpu = sum(p.cpu_millis_needed for p in plans) + fixed_cpu
    nodes_needed = math.ceil(total_cpu / cluster.node_cpu_millis) if total_cpu else 0
    base_cpu = sum(p.min_replicas * (p.cpu_millis_needed / max(p.replicas_needed, 1)) for p in plans) + fixed_cpu
    spare = cluster.nodes * cluster.node_cpu_millis - base_cpu
    nodes_cap = _floor_users(max(spare, 0) / cpu_per_user) if cpu_per_user > 0 else 2**63 - 1
    caps = [p.users_cap for p in plans if p.users_cap is not None and not p.reaches]
    caps.append(nodes_cap if nodes_needed > cluster.nodes else users)
    reachable = min([users, *caps])
    return Plan(
        users=users,
        environment=cluster.environment,
        rps_per_user=round(gateway_per_user, 4),
        gateway_rps=round(gateway_per_user * users, 1),
        workers_needed=workers,
        worker_cpu_millis=capacity.worker_cpu_millis,
        worker_memory_mib=worker_mem,
        masters_needed=math.ceil(workers / capacity.max_workers_per_master),
        capacity_measured=capacity.measured,
        services=sorted(plans, key=lambda p: p.name),
        nodes_declared=cluster.nodes,
        node_cpu_millis=cluster.node_cpu_millis,
        nodes_needed=nodes_needed,
        nodes_users_cap=min(nodes_cap, users) if nodes_needed > cluster.nodes else users,
        reachable_users=reachable,
        zones=cluster.zones,
        nodes_after_zone_loss=cluster.nodes_after_zone_loss,
        pods_at_maxima=sum(s.max_replicas for s in services),
        cpu_millis_at_maxima=sum(s.max_replicas * s.cpu_request_millis for s in services),
        missing_services=sorted(set(PROFILES) - declared),
        unprofiled_workloads=sorted(declared - set(PROFILES) - set(companions)),
        companion_workloads=dict(sorted(companions.items())),
    )


def to_json(plan: Plan) -> dict[str, Any]:
    data = asdict(plan)
    data["reaches"] = plan.reaches
    data["limits"] = plan.limits()
    data["sources"] = dict(SOURCES)
    for s, p in zip(data["services"], plan.services, strict=True):
        s["reaches"] = p.reaches
        s["headroom"] = None if p.headroom is None else round(p.headroom, 2)
    return data


def render_text(plan: Plan) -> str:
    lines = [
        f"Capacity plan for {plan.users:,} concurrent users, environment {plan.environment}",
        f"Traffic: {plan.rps_per_user:.3f} requests/s per user at the gateway → {plan.gateway_rps:,.0f} requests/s",
        f"Load: {plan.workers_needed:,} Locust worker processes "
        f"(each {plan.worker_cpu_millis}m CPU, {plan.worker_memory_mib} MiB; "
        f"capacity measured {plan.capacity_measured or '?'})"
        + (
            f", {plan.masters_needed} masters (one master drives at most "
            f"{math.ceil(plan.workers_needed / plan.masters_needed):,} workers here)"
            if plan.masters_needed > 1
            else ", 1 master"
        ),
        "Replicas (each carries CPU request x HPA target / CPU per request; CPU per request from the"
        " stand-in profiles in core/profiles.py, not measured on the real services):",
    ]
    width = max((len(s.name) for s in plan.services), default=10)
    for s in plan.services:
        bound = f"HPA {s.min_replicas}..{s.max_replicas}" if s.has_hpa else f"fixed {s.max_replicas}"
        if not s.reaches:
            status = f"SHORT: caps at {s.users_cap:,} users"
        elif s.rps <= 0:
            status = "ok, no traffic in the model"
        elif s.headroom is not None:
            status = f"ok, bound {s.headroom:.2f}x needed"
        else:
            status = "ok"
        lines.append(
            f"  {s.name:<{width}}  needs {s.replicas_needed:>7,} x {s.replica_rps:>8,.0f} rps  "
            f"({s.rps:>11,.0f} rps)  {bound:<13} {status}"
        )
    after_loss = (
        f", {plan.nodes_after_zone_loss} after losing one of {plan.zones} zones" if plan.zones > 1 else ""
    )
    lines.append(
        f"Nodes: the replicas needed request {plan.nodes_needed:,} nodes of {plan.node_cpu_millis}m CPU; "
        f"the environment declares {plan.nodes_declared}{after_loss}"
    )
    declared_cpu = plan.nodes_declared * plan.node_cpu_millis
    lines.append(
        f"At the HPA maxima: {plan.pods_at_maxima:,} pods requesting {plan.cpu_millis_at_maxima / 1000:,.0f} CPU, "
        f"{plan.cpu_millis_at_maxima / declared_cpu:.0%} of the {declared_cpu / 1000:,.0f} CPU of the declared nodes"
    )
    if plan.missing_services:
        lines.append(f"Not in the overlay (not planned): {', '.join(plan.missing_services)}")
    for workload, service in plan.companion_workloads.items():
        lines.append(f"{workload} runs more pods of {service} (a canary): its fixed replicas count toward the "
                     f"nodes; the plan sizes {service} for all of its traffic")
    if plan.unprofiled_workloads:
        lines.append(f"Workloads without a profile (not planned): {', '.join(plan.unprofiled_workloads)}")
    limits = plan.limits()
    if limits:
        lines.append(
            f"The declared bounds cannot reach {plan.users:,} users; they serve at most {plan.reachable_users:,}"
            " (by the stand-in profiles):"
        )
        lines.extend(f"  {line}" for line in limits)
    else:
        lines.append(f"The declared bounds can reach {plan.users:,} users (by the stand-in profiles).")
    return "\n".join(lines)
