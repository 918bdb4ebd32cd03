"""A service's traffic split: a VirtualService route's weighted destinations over DestinationRule subsets.

Istio turns each subset of a DestinationRule into an Envoy cluster of its own (`outbound|PORT|SUBSET|HOST`)
whose endpoints are the service's endpoints carrying all of the subset's `labels`, with the rule's
`trafficPolicy` (a subset's own `trafficPolicy` overriding the fields it sets) and so its own outlier
detection and panic threshold. A VirtualService `http` route with several destinations becomes an
Envoy `weighted_clusters` route: each request picks one destination with probability weight/total
(Envoy normalises by the sum; Istio's docs say the weights should add up to 100, and a single
destination's weight is 100 when left out). A destination without a subset is the whole service.

The local proxy follows the first `http` route with no `match` (the one plain client requests take);
routes with match conditions are not modelled (docs/dataplane.md). A route that names a subset the
DestinationRule does not define is a cluster with no endpoints: its share of the requests gets 503,
as Envoy's "no healthy upstream".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aideon_resilience.adapters.dataplane.proxy_config import rule_name

POOL_SEPARATOR = "."


def pool_name(service: str, subset: str | None) -> str:
    """The name of the pool (an Envoy cluster, an HAProxy backend) of a service or one of its subsets."""
    return service if subset is None else f"{service}{POOL_SEPARATOR}{subset}"


@dataclass(frozen=True)
class Destination:
    """One weighted destination of the route: the whole service (`subset` None) or one subset."""

    subset: str | None
    weight: int
    labels: dict[str, str] | None = None  # the subset's labels; None: not defined by the DestinationRule
    outlier_detection: dict[str, Any] | None = None  # the subset's own trafficPolicy.outlierDetection

    def selects(self, pod_labels: dict[str, str]) -> bool:
        if self.subset is None:
            return True
        if self.labels is None:
            return False
        return all(pod_labels.get(k) == v for k, v in self.labels.items())


@dataclass(frozen=True)
class TrafficSplit:
    service: str
    destinations: tuple[Destination, ...]
    source: str = ""
    subsets: tuple[Destination, ...] = field(default=())  # every subset of the rule (for their pools)

    def routes(self) -> list[tuple[str, int]]:
        """(pool, weight) of each destination, in the route's order."""
        return [(pool_name(self.service, d.subset), d.weight) for d in self.destinations]

    def pools(self) -> dict[str, Destination]:
        """Every subset pool this split needs, by pool name (routed or not)."""
        found = {pool_name(self.service, d.subset): d for d in self.subsets}
        found |= {pool_name(self.service, d.subset): d for d in self.destinations if d.subset is not None}
        return found


def default_route_index(routes: list[dict[str, Any]]) -> int | None:
    """The index of the first `http` route without `match`: the one plain client requests take."""
    return next((i for i, r in enumerate(routes) if not r.get("match")), None)


def _short(host: str) -> str:
    return host.split(".", 1)[0]


def _weight(dest: dict[str, Any], single: bool, where: str) -> int:
    if "weight" not in dest or dest["weight"] is None:
        return 100 if single else 0
    try:
        n = int(dest["weight"])
    except (TypeError, ValueError):
        raise ValueError(f"{where}.weight: not an integer: {dest['weight']!r}") from None
    if n < 0:
        raise ValueError(f"{where}.weight: must not be negative, got {n}")
    return n


def _rule_subsets(dr: dict[str, Any] | None) -> dict[str, Destination]:
    found: dict[str, Destination] = {}
    for s in ((dr or {}).get("spec") or {}).get("subsets") or []:
        name = str(s.get("name", ""))
        if name:
            od = (s.get("trafficPolicy") or {}).get("outlierDetection")
            found[name] = Destination(name, 0, dict(s.get("labels") or {}), od)
    return found


def split_from(vs: dict[str, Any], service: str, dr: dict[str, Any] | None) -> TrafficSplit | None:
    """The split of `service`'s requests the VirtualService `vs` asks for (with the DestinationRule `dr`
    of the same host), or None when its route sends everything to the whole service. Raises
    ValueError naming the field for a route Envoy would not accept (no destination, all weights 0)."""
    name = rule_name(vs)
    routes = (vs.get("spec") or {}).get("http") or []
    index = default_route_index(routes)
    if index is None:
        return None
    route = routes[index]
    where = f"VirtualService {name}: spec.http[{index}].route"
    dests = [d for d in route.get("route") or []
             if _short(str((d.get("destination") or {}).get("host", ""))) == service]
    if not dests:
        return None
    subsets = _rule_subsets(dr)
    out = []
    for i, d in enumerate(dests):
        subset = (d.get("destination") or {}).get("subset")
        weight = _weight(d, len(dests) == 1, f"{where}[{i}]")
        known = subsets.get(subset) if subset else None
        out.append(Destination(subset, weight, known.labels if known else None,
                               known.outlier_detection if known else None))
    if sum(d.weight for d in out) <= 0:
        raise ValueError(f"{where}: the weights add up to 0")
    if all(d.subset is None for d in out):
        return None
    return TrafficSplit(service, tuple(out), f"VirtualService {name}", tuple(subsets.values()))


def destination_rule_with(dr: dict[str, Any], subset: Destination) -> dict[str, Any]:
    """The DestinationRule as Istio applies it to one subset's cluster: the subset's own
    outlierDetection, when it has one, replacing the rule's."""
    if subset.outlier_detection is None:
        return dr
    spec = dict(dr.get("spec") or {})
    spec["trafficPolicy"] = {**(spec.get("trafficPolicy") or {}), "outlierDetection": subset.outlier_detection}
    return {**dr, "spec": spec}
