"""VirtualService routes over DestinationRule subsets, as Istio programs them into Envoy (no cluster)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from aideon_resilience.adapters.dataplane.mesh_rules import MeshRules, mesh_from
from aideon_resilience.adapters.dataplane.proxy import haproxy_binary
from aideon_resilience.adapters.dataplane.proxy_config import render_config
from aideon_resilience.adapters.dataplane.traffic_split import Destination, split_from

HOST = "api-gateway.aideon-backend.svc.cluster.local"


def _dest(subset: str | None, weight: int | None) -> dict[str, Any]:
    d: dict[str, Any] = {"destination": {"host": HOST, "port": {"number": 8080}}}
    if subset is not None:
        d["destination"]["subset"] = subset
    if weight is not None:
        d["weight"] = weight
    return d


def _vs(*dests: dict[str, Any], match_first: bool = False) -> dict[str, Any]:
    http: list[dict[str, Any]] = [{"name": "default", "route": list(dests)}]
    if match_first:  # a header route before it: not what plain client requests take
        http.insert(0, {"match": [{"headers": {"x-canary": {"exact": "1"}}}], "route": [_dest("v2", None)]})
    return {"metadata": {"namespace": "aideon-backend", "name": "api-gateway"}, "spec": {"hosts": [HOST], "http": http}}


DR: dict[str, Any] = {
    "metadata": {"namespace": "aideon-backend", "name": "api-gateway"},
    "spec": {
        "host": HOST,
        "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 5, "maxEjectionPercent": 50}},
        "subsets": [
            {"name": "v1", "labels": {"version": "v1"}},
            {"name": "v2", "labels": {"version": "v2"},
             "trafficPolicy": {"outlierDetection": {"consecutive5xxErrors": 2, "maxEjectionPercent": 100}}},
        ],
    },
}


def test_the_seeds_split_is_two_subset_pools_weighted_90_10() -> None:
    split = split_from(_vs(_dest("v1", 90), _dest("v2", 10)), "api-gateway", DR)
    assert split is not None
    assert split.routes() == [("api-gateway.v1", 90), ("api-gateway.v2", 10)]
    v1, v2 = split.destinations
    assert v1.selects({"version": "v1", "app": "x"}) and not v1.selects({"version": "v2"})
    assert v2.outlier_detection == {"consecutive5xxErrors": 2, "maxEjectionPercent": 100}


def test_a_single_destination_is_all_of_the_traffic() -> None:
    assert split_from(_vs(_dest(None, None)), "api-gateway", DR) is None  # the whole service
    split = split_from(_vs(_dest("v1", None)), "api-gateway", DR)
    assert split is not None and split.routes() == [("api-gateway.v1", 100)]


def test_the_first_route_without_match_is_the_one_followed() -> None:
    split = split_from(_vs(_dest("v1", 100), _dest("v2", 0), match_first=True), "api-gateway", DR)
    assert split is not None and split.routes() == [("api-gateway.v1", 100), ("api-gateway.v2", 0)]
    # every subset of the rule gets a pool, routed or not
    assert set(split.pools()) == {"api-gateway.v1", "api-gateway.v2"}


def test_an_undefined_subset_selects_no_pod() -> None:
    split = split_from(_vs(_dest("v1", 50), _dest("v9", 50)), "api-gateway", DR)
    assert split is not None
    assert split.destinations[1] == Destination("v9", 50, None, None)
    assert not split.destinations[1].selects({"version": "v9"})


@pytest.mark.parametrize(
    ("dests", "message"),
    [
        ((_dest("v1", 0), _dest("v2", 0)), "spec.http[0].route: the weights add up to 0"),
        ((_dest("v1", -1), _dest("v2", 101)), "spec.http[0].route[0].weight: must not be negative"),
        ((_dest("v1", "x"), _dest("v2", 10)), "spec.http[0].route[0].weight: not an integer"),  # type: ignore[arg-type]
    ],
)
def test_a_route_envoy_would_refuse_is_named(dests: tuple[dict[str, Any], ...], message: str) -> None:
    with pytest.raises(ValueError) as err:
        split_from(_vs(*dests), "api-gateway", DR)
    assert str(err.value).startswith("VirtualService aideon-backend/api-gateway: ") and message in str(err.value)


def _mesh(*dests: dict[str, Any]) -> MeshRules:
    """The gateway split as the seed's route has it (or over `dests`), auth-service with no rule."""
    return mesh_from({"api-gateway": DR}, {"api-gateway": _vs(*(dests or (_dest("v1", 90), _dest("v2", 10))))})


def test_each_subset_pool_has_the_rules_policy_with_its_own_override() -> None:
    mesh = _mesh()
    assert mesh.pools["api-gateway.v1"].policy.consecutive_5xx == 5
    assert mesh.pools["api-gateway.v1"].policy.max_ejection_percent == 50
    assert mesh.pools["api-gateway.v2"].policy.consecutive_5xx == 2  # the subset's own outlierDetection
    assert mesh.pools["api-gateway.v2"].policy.max_ejection_percent == 100
    assert DR["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] == 5  # not changed
    assert {name: pool.rule for name, pool in mesh.pools.items() if name.startswith("api-gateway")} == {
        "api-gateway": "aideon-backend/api-gateway", "api-gateway.v1": "aideon-backend/api-gateway",
        "api-gateway.v2": "aideon-backend/api-gateway",
    }
    assert mesh.pools["auth-service"].rule is None  # no DestinationRule: state.json records no policy for it


def test_pool_backends_are_selected_by_pod_labels() -> None:
    a, b, c = ("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)
    labels = {a: {"version": "v1"}, b: {"version": "v1"}, c: {"version": "v2"}}
    pools = _mesh().pool_backends({"api-gateway": [a, b, c], "auth-service": [("127.0.0.1", 9)]}, labels)
    assert {k: v for k, v in pools.items() if v} == {
        "api-gateway": [a, b, c], "api-gateway.v1": [a, b], "api-gateway.v2": [c], "auth-service": [("127.0.0.1", 9)]
    }


def test_the_split_renders_a_weighted_pick_haproxy_accepts(tmp_path: Path) -> None:
    proxies = _mesh().proxies({"api-gateway": 18080, "auth-service": 18081})
    text = render_config(proxies, tmp_path / "s.sock", 18082)
    assert "    http-request set-var(txn.route) rand(100)" in text
    assert "    use_backend be_api-gateway.v1 if { var(txn.route) -m int lt 90 }" in text
    assert "    default_backend be_api-gateway.v2" in text
    assert "frontend fe_api-gateway.v1" not in text and "backend be_api-gateway.v1" in text
    assert "    default_backend be_auth-service" in text  # no split: its own backend
    (tmp_path / "h.cfg").write_text(text)
    cfg = tmp_path / "h.cfg"
    check = subprocess.run([haproxy_binary(), "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_a_zero_weight_destination_gets_no_rule(tmp_path: Path) -> None:
    mesh = _mesh(_dest("v1", 100), _dest("v2", 0))
    assert "api-gateway.v2" in mesh.pools  # its pool exists, with no route to it
    text = render_config(mesh.proxies({"api-gateway": 18080, "auth-service": 18081}), tmp_path / "s.sock", 18082)
    assert "rand(100)" in text and "use_backend" not in text and "    default_backend be_api-gateway.v1" in text
