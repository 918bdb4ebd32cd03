"""The cluster's Istio rules as the local proxy applies them: per pool (a service, or one subset of it)
the outlier policy and connect timeout of its DestinationRule, and per service the weighted split of
its VirtualService route (`traffic_split`).

Read again every few seconds by the supervisor; a rule that cannot be read (a malformed field) is
left out with a warning naming it, as if absent: no outlier detection, or no split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from aideon_resilience.adapters.dataplane.proxy_config import (
    OutlierPolicy,
    ServiceProxy,
    connect_timeout_from_destination_rule,
    outlier_from_destination_rule,
    rule_name,
)
from aideon_resilience.adapters.dataplane.route_retries import RetryPolicy, retries_from_virtual_service
from aideon_resilience.adapters.dataplane.traffic_split import (
    Destination,
    TrafficSplit,
    destination_rule_with,
    split_from,
)
from aideon_resilience.core.profiles import PROFILES

log = logging.getLogger("aideon.dataplane.rules")

ISTIO_GROUP = "networking.istio.io"


@dataclass(frozen=True)
class Pool:
    """One pool of backends: a whole service (`subset` None) or one subset of it."""

    service: str
    policy: OutlierPolicy
    connect_timeout_s: float | None
    subset: Destination | None = None
    rule: str | None = None  # the DestinationRule (namespace/name) it comes from; None without one

    def selects(self, labels: dict[str, str]) -> bool:
        return self.subset is None or self.subset.selects(labels)


@dataclass
class MeshRules:
    pools: dict[str, Pool] = field(default_factory=dict)  # by pool name; every platform service has one
    splits: dict[str, TrafficSplit] = field(default_factory=dict)  # by service
    retries: dict[str, RetryPolicy] = field(default_factory=dict)  # by service: its route's retry policy

    def proxies(self, frontends: dict[str, int]) -> list[ServiceProxy]:
        """What the proxy serves: each service's frontend and backend, and a backend per subset pool
        (of the services given a frontend port)."""
        out = []
        for name, pool in self.pools.items():
            if pool.service not in frontends:
                continue
            split = self.splits.get(pool.service) if pool.subset is None else None
            retries = self.retries.get(pool.service, RetryPolicy())
            out.append(ServiceProxy(
                name, frontends[pool.service] if pool.subset is None else 0, pool.policy,
                connect_timeout_s=pool.connect_timeout_s if pool.connect_timeout_s is not None else 1.0,
                routes=tuple(split.routes()) if split else (), frontend=pool.subset is None,
                retries=retries.backend_retries(),
            ))  # fmt: skip
        return out

    def pool_backends(
        self, backends: dict[str, list[tuple[str, int]]], labels: dict[tuple[str, int], dict[str, str]]
    ) -> dict[str, list[tuple[str, int]]]:
        """The backends of every pool: a service's are all its routable pods, a subset's those of them
        carrying the subset's labels."""
        return {
            name: [a for a in backends.get(pool.service, []) if pool.selects(labels.get(a, {}))]
            for name, pool in self.pools.items()
        }

    def routes(self) -> dict[str, list[tuple[str, int]]]:
        return {service: split.routes() for service, split in sorted(self.splits.items())}


def _list(custom: client.CustomObjectsApi, plural: str) -> list[dict[str, Any]]:
    try:
        items: list[dict[str, Any]] = custom.list_cluster_custom_object(
            ISTIO_GROUP, "v1", plural, _request_timeout=10
        ).get("items", [])
    except ApiException as exc:
        if exc.status == 404:  # no CRD: no rule
            return []
        raise
    return items


def _by_service(items: list[dict[str, Any]], namespaces: list[str] | None, host_of: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        md = item.get("metadata") or {}
        if namespaces and md.get("namespace") not in namespaces:
            continue
        for host in host_of(item.get("spec") or {}):
            service = str(host).split(".", 1)[0]
            if service in PROFILES:
                found.setdefault(service, item)
    return found


def pool_of(service: str, dr: dict[str, Any] | None, subset: Destination | None = None) -> Pool:
    if dr is None:
        return Pool(service, OutlierPolicy.off("no DestinationRule: no outlier detection"), None, subset)
    rule = dr if subset is None else destination_rule_with(dr, subset)
    try:
        policy = outlier_from_destination_rule(rule)
    except ValueError as exc:
        log.warning("ignoring outlierDetection: %s (no ejection for this pool)", exc)
        policy = OutlierPolicy.off(f"{exc} (ignored)")
    return Pool(service, policy, connect_timeout_from_destination_rule(dr), subset, rule=rule_name(dr))


def read_mesh_rules(custom: client.CustomObjectsApi, namespaces: list[str] | None) -> MeshRules:
    """Every platform service's pools and split from the cluster's DestinationRules and VirtualServices."""
    rules = _by_service(_list(custom, "destinationrules"), namespaces, lambda spec: [spec.get("host", "")])
    services = _by_service(_list(custom, "virtualservices"), namespaces, lambda spec: spec.get("hosts") or [])
    return mesh_from(rules, services)


def mesh_from(rules: dict[str, dict[str, Any]], services: dict[str, dict[str, Any]]) -> MeshRules:
    """The pools and splits of every platform service from its DestinationRule and VirtualService
    (by service name; a service with neither is one pool without outlier detection)."""
    mesh = MeshRules()
    for service in PROFILES:
        dr = rules.get(service)
        mesh.pools[service] = pool_of(service, dr)
        vs = services.get(service)
        mesh.retries[service] = _retries(service, vs)
        if vs is None:
            continue
        try:
            split = split_from(vs, service, dr)
        except ValueError as exc:
            log.warning("ignoring the route: %s (every request to the whole service)", exc)
            continue
        if split is None:
            continue
        mesh.splits[service] = split
        for name, dest in split.pools().items():
            mesh.pools[name] = pool_of(service, dr, dest)
    return mesh


_warned: set[tuple[str, tuple[str, ...]]] = set()


def _retries(service: str, vs: dict[str, Any] | None) -> RetryPolicy:
    """The retry policy of the service's route (Istio's default when it sets none, or is malformed)."""
    try:
        policy = retries_from_virtual_service(vs)
    except ValueError as exc:
        log.warning("ignoring the route's retries: %s (Istio's default retry policy instead)", exc)
        return RetryPolicy()
    unsupported = tuple(policy.unsupported())
    if unsupported and (service, unsupported) not in _warned:
        _warned.add((service, unsupported))
        log.warning("%s: the local proxy cannot retry on %s (%s); the rest of the policy applies",
                    service, ", ".join(unsupported), policy.source)
    return policy


__all__ = ["MeshRules", "Pool", "mesh_from", "pool_of", "read_mesh_rules"]
