from __future__ import annotations

import random
import statistics

import pytest

from aideon_resilience.core import profiles as pr


def test_every_route_chain_names_known_services_and_starts_at_the_gateway() -> None:
    for route in pr.ROUTES.values():
        assert route.chain[0] == pr.GATEWAY
        assert all(s in pr.PROFILES for s in route.chain), route
    for journey in pr.JOURNEYS:
        assert journey.weight > 0
        assert all(r in pr.ROUTES for r in journey.routes)


def test_eighteen_services_in_five_tiers() -> None:
    assert len(pr.PROFILES) == 18
    assert {p.tier for p in pr.PROFILES.values()} == {"frontend", "backend", "knowledge", "security", "infrastructure"}


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/v1/subscriptions/user-42", "/api/v1/subscriptions/[user]"),
        ("GET", "/api/v1/knowledge/search?q=x&limit=3", "/api/v1/knowledge/search"),
        ("POST", "/api/v1/auth/login", "/api/v1/auth/login"),
        ("GET", "/api/v1/auth/login", None),
        ("GET", "/api/v1/subscriptions/", None),
        ("GET", "/nope", None),
    ],
)
def test_match_route(method: str, path: str, expected: str | None) -> None:
    route = pr.match_route(method, path)
    assert (route.name if route else None) == expected


def test_next_hop_follows_the_chain() -> None:
    search = pr.ROUTES["/api/v1/knowledge/search"]
    assert pr.next_hop(search, "api-gateway") == "knowledge-integration-service"
    assert pr.next_hop(search, "knowledge-integration-service") == "vector-db"
    assert pr.next_hop(search, "vector-db") is None
    assert pr.next_hop(search, "auth-service") is None


def test_latency_draws_follow_the_profile_median_and_scale() -> None:
    p = pr.profile("auth-service")
    rng = random.Random(7)
    draws = [pr.sample_latency_ms(p, rng) for _ in range(4001)]
    assert statistics.median(draws) == pytest.approx(p.latency_p50_ms, rel=0.1)
    assert max(draws) <= 5 * p.latency_p99_ms
    assert pr.sample_latency_ms(p, rng, scale=0) == 0.0


def test_unknown_profile_names_the_service() -> None:
    with pytest.raises(KeyError, match="nope"):
        pr.profile("nope")


def test_rates_per_user_follow_weights_and_think_time() -> None:
    rates = pr.requests_per_user_s(think=(1.0, 3.0))  # mean think 2 s, one request per task
    assert sum(rates.values()) == pytest.approx(0.5)
    total_weight = sum(j.weight for j in pr.JOURNEYS)
    assert rates["/api/v1/chat/completions"] == pytest.approx(pr.JOURNEY_WEIGHTS["chat"] / total_weight / 2)
    per_service = pr.service_rps_per_user(think=(1.0, 3.0))
    assert per_service[pr.GATEWAY] == pytest.approx(0.5)
    assert per_service["vector-db"] == pytest.approx(rates["/api/v1/knowledge/search"])
    assert "backup-service" not in per_service


def test_replica_rps_is_cpu_request_times_target_over_cpu_per_request() -> None:
    p = pr.profile("api-gateway")
    assert pr.replica_rps(p, 1000, 0.7) == pytest.approx(700 / p.cpu_ms)
