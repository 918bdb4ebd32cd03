"""Per-service profiles of the platform, the gateway routes and the journey mix of a simulated user.

Pure data and pure functions. The stand-in process spends a profile's CPU and latency per request
and forwards a route to the next service of its chain; the capacity plan turns the same figures
into requests per second per user and per replica. The locustfile takes its task weights and think
time from here, so the plan and the load agree on what one user costs.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

GATEWAY = "api-gateway"


@dataclass(frozen=True)
class ServiceProfile:
    """What one request costs a replica of a service."""

    name: str
    tier: str
    cpu_ms: float  # CPU time spent per request, milliseconds
    latency_p50_ms: float  # added latency (waiting, not CPU), median
    latency_p99_ms: float  # added latency, 99th percentile (log-normal in between)


@dataclass(frozen=True)
class Route:
    """A gateway route and the chain of services one request visits, gateway first."""

    name: str  # grouped request name (what the statistics show), e.g. "/api/v1/subscriptions/[user]"
    method: str
    path: str  # path prefix the stand-in matches
    chain: tuple[str, ...]

    @property
    def endpoint(self) -> str:
        """Key of the route in windowed statistics: `METHOD name`."""
        return f"{self.method} {self.name}"


@dataclass(frozen=True)
class Journey:
    """One locustfile task: its weight and the routes it requests, in order."""

    name: str
    weight: int
    routes: tuple[str, ...]


PROFILES: dict[str, ServiceProfile] = {
    p.name: p
    for p in (
        ServiceProfile("ui-service", "frontend", 0.5, 1.0, 5.0),
        ServiceProfile("web-client", "frontend", 0.5, 1.0, 5.0),
        ServiceProfile("api-gateway", "backend", 1.5, 1.0, 8.0),
        ServiceProfile("auth-service", "backend", 4.0, 5.0, 30.0),
        ServiceProfile("subscription-service", "backend", 1.0, 3.0, 20.0),
        ServiceProfile("analytics-service", "backend", 0.8, 2.0, 15.0),
        ServiceProfile("dr-tardis-service", "backend", 1.0, 3.0, 20.0),
        ServiceProfile("vector-db", "knowledge", 6.0, 8.0, 60.0),
        ServiceProfile("knowledge-integration-service", "knowledge", 2.0, 5.0, 40.0),
        ServiceProfile("llm-provider-service", "knowledge", 3.0, 300.0, 2000.0),
        ServiceProfile("security-layer-service", "security", 1.0, 1.0, 8.0),
        ServiceProfile("encryption-service", "security", 1.5, 1.0, 8.0),
        ServiceProfile("consent-manager-service", "security", 0.8, 2.0, 15.0),
        ServiceProfile("audit-logger-service", "security", 0.5, 2.0, 15.0),
        ServiceProfile("compliance-reporter-service", "security", 1.0, 5.0, 40.0),
        ServiceProfile("monitoring-service", "infrastructure", 0.5, 1.0, 5.0),
        ServiceProfile("logging-service", "infrastructure", 0.5, 1.0, 5.0),
        ServiceProfile("backup-service", "infrastructure", 1.0, 5.0, 40.0),
    )
}

ROUTES: dict[str, Route] = {
    r.name: r
    for r in (
        Route("/api/v1/auth/login", "POST", "/api/v1/auth/login", (GATEWAY, "auth-service", "audit-logger-service")),
        Route("/api/v1/auth/refresh", "POST", "/api/v1/auth/refresh", (GATEWAY, "auth-service")),
        Route("/api/v1/chat/completions", "POST", "/api/v1/chat/completions", (GATEWAY, "llm-provider-service")),
        Route(
            "/api/v1/knowledge/search",
            "GET",
            "/api/v1/knowledge/search",
            (GATEWAY, "knowledge-integration-service", "vector-db"),
        ),
        Route("/api/v1/subscriptions/[user]", "GET", "/api/v1/subscriptions/", (GATEWAY, "subscription-service")),
        Route("/api/v1/analytics/events", "POST", "/api/v1/analytics/events", (GATEWAY, "analytics-service")),
        Route("/health", "GET", "/health", (GATEWAY,)),
    )
}

JOURNEYS: tuple[Journey, ...] = (
    Journey("sign_in", 1, ("/api/v1/auth/login",)),
    Journey("refresh_token", 1, ("/api/v1/auth/refresh",)),
    Journey("chat", 5, ("/api/v1/chat/completions",)),
    Journey("knowledge_search", 3, ("/api/v1/knowledge/search",)),
    Journey("subscription_check", 2, ("/api/v1/subscriptions/[user]",)),
    Journey("analytics_events", 3, ("/api/v1/analytics/events",)),
    Journey("health", 1, ("/health",)),
)
JOURNEY_WEIGHTS: dict[str, int] = {j.name: j.weight for j in JOURNEYS}

# Default think time of a simulated user between two tasks, seconds (uniform, like Locust's `between`):
# reading an assistant's answer and typing the next prompt takes several seconds. The users one
# worker carries scale with it (benchmarks/README.md: about 7,100 users at 2-8 s, 14,000 at 5-15 s).
THINK_TIME_S: tuple[float, float] = (5.0, 15.0)

_Z99 = 2.3263478740408408  # standard normal quantile at 0.99


def profile(name: str) -> ServiceProfile:
    """The profile of a platform service; KeyError names the unknown service."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown service {name!r} (known: {', '.join(sorted(PROFILES))})") from None


def match_route(method: str, path: str) -> Route | None:
    """The route a request belongs to (query string ignored), or None."""
    bare = path.split("?", 1)[0]
    for route in ROUTES.values():
        if route.method != method:
            continue
        if route.path.endswith("/"):
            if bare.startswith(route.path) and len(bare) > len(route.path):
                return route
        elif bare == route.path:
            return route
    return None


def next_hop(route: Route, service: str) -> str | None:
    """The service a replica of `service` calls next for `route`, or None at the end of the chain."""
    if service not in route.chain:
        return None
    i = route.chain.index(service)
    return route.chain[i + 1] if i + 1 < len(route.chain) else None


def sample_latency_ms(p: ServiceProfile, rng: random.Random, scale: float = 1.0) -> float:
    """Added latency for one request: log-normal with the profile's median and p99, capped at 5 x p99."""
    if scale <= 0 or p.latency_p50_ms <= 0:
        return 0.0
    sigma = math.log(max(p.latency_p99_ms, p.latency_p50_ms) / p.latency_p50_ms) / _Z99
    value = p.latency_p50_ms * math.exp(sigma * rng.gauss(0.0, 1.0))
    return min(value, 5 * p.latency_p99_ms) * scale


def mean_think_time_s(think: tuple[float, float] = THINK_TIME_S) -> float:
    return (think[0] + think[1]) / 2


def requests_per_user_s(
    journeys: tuple[Journey, ...] = JOURNEYS, think: tuple[float, float] = THINK_TIME_S
) -> dict[str, float]:
    """Steady-state requests per second one simulated user sends to each route.

    A user runs one weighted task, then thinks; the time a task takes is neglected (which
    overestimates the rate slightly: the plan errs on the safe side).
    """
    total_weight = sum(j.weight for j in journeys)
    mean_think = mean_think_time_s(think)
    if total_weight <= 0 or mean_think <= 0:
        raise ValueError("journey weights and think time must be positive")
    rates: dict[str, float] = {}
    for j in journeys:
        for r in j.routes:
            rates[r] = rates.get(r, 0.0) + (j.weight / total_weight) / mean_think
    return rates


def service_rps_per_user(
    journeys: tuple[Journey, ...] = JOURNEYS, think: tuple[float, float] = THINK_TIME_S
) -> dict[str, float]:
    """Requests per second one simulated user causes at each service (every service of each chain)."""
    out: dict[str, float] = {}
    for route_name, rate in requests_per_user_s(journeys, think).items():
        for service in ROUTES[route_name].chain:
            out[service] = out.get(service, 0.0) + rate
    return out


def replica_rps(p: ServiceProfile, cpu_request_millis: float, target_utilization: float) -> float:
    """Requests per second one replica serves before its CPU use reaches the HPA target.

    The HPA scales out when CPU use reaches `target_utilization` of the container's request, so
    that is the load a replica is meant to carry.
    """
    if p.cpu_ms <= 0:
        return math.inf
    return (cpu_request_millis * target_utilization) / p.cpu_ms
