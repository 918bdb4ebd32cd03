"""A VirtualService route's retries as Istio converts them (`ConvertPolicy`) and the HAProxy settings
that follow them (no process but `haproxy -c`)."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aideon_resilience.adapters.dataplane.mesh_rules import mesh_from
from aideon_resilience.adapters.dataplane.proxy import haproxy_binary
from aideon_resilience.adapters.dataplane.proxy_config import DEFAULT_RETRIES, render_config
from aideon_resilience.adapters.dataplane.route_retries import RetryPolicy, retries_from_virtual_service
from tests.adapters.dataplane.test_traffic_split import DR, _dest, _vs

NO_ANSWER = ["conn-failure", "empty-response", "junk-response", "response-timeout"]


def _with_retries(retries: Any, match_first: bool = False) -> dict[str, Any]:
    vs = _vs(_dest("v1", 100), match_first=match_first)
    vs["spec"]["http"][-1]["retries"] = retries
    return vs


def test_no_virtual_service_or_no_retries_is_istios_default_policy() -> None:
    for vs in (None, _vs(_dest("v1", 100))):
        policy = retries_from_virtual_service(vs)
        conditions = ("connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes")
        assert (policy.attempts, policy.retry_on, policy.status_codes, policy.per_try_timeout_s) == (
            2, conditions, (503,), None)
        assert policy.haproxy_retry_on() == ["conn-failure", "503"]  # the rest is HTTP/2 and gRPC
        assert policy.unsupported() == []
    # the defaults section's policy is the same one
    default = RetryPolicy().backend_retries()
    assert (default.count, default.retry_on, default.timeout_server_s) == (
        DEFAULT_RETRIES.count, DEFAULT_RETRIES.retry_on, DEFAULT_RETRIES.timeout_server_s)


def test_the_manifests_retries_and_each_condition_map_to_haproxys_keywords() -> None:
    policy = retries_from_virtual_service(_with_retries({"attempts": 2, "perTryTimeout": "3s",
                                                         "retryOn": "5xx,reset,connect-failure"}))
    assert (policy.attempts, policy.retry_on, policy.status_codes, policy.per_try_timeout_s) == (
        2, ("5xx", "reset", "connect-failure"), (), 3.0)  # retryOn replaces the default's codes too
    assert policy.haproxy_retry_on() == [*NO_ANSWER, "500", "501", "502", "503", "504"]
    backend = policy.backend_retries()
    assert (backend.count, backend.timeout_server_s) == (2, 3.0)
    assert "VirtualService aideon-backend/api-gateway" in backend.source
    cases = {
        "gateway-error": [*NO_ANSWER, "502", "503", "504"],
        "reset": NO_ANSWER,
        "connect-failure": ["conn-failure"],
        "503,504": ["503", "504"],  # numbers are retriable status codes (Istio adds the condition)
        "retriable-status-codes": ["none"],  # no code given: nothing
        "refused-stream,unavailable": ["none"],
    }
    for retry_on, keywords in cases.items():
        got = retries_from_virtual_service(_with_retries({"attempts": 3, "retryOn": retry_on}))
        assert got.haproxy_retry_on() == keywords, retry_on
        assert got.backend_retries().count == (0 if keywords == ["none"] else 3), retry_on
    odd = retries_from_virtual_service(_with_retries({"attempts": 1, "retryOn": "retriable-4xx,409,5xx"}))
    assert odd.status_codes == (409,) and odd.unsupported() == ["retriable-4xx", "409"]


def test_attempts_zero_turns_retries_off_and_only_the_default_route_counts() -> None:
    off = retries_from_virtual_service(_with_retries({"attempts": 0, "retryOn": "5xx"}))
    assert off.attempts == 0 and off.haproxy_retry_on() == ["none"] and off.backend_retries().count == 0
    # the retries of the route plain requests take, not of a header route before it
    vs = _with_retries({"attempts": 1, "retryOn": "gateway-error"}, match_first=True)
    vs["spec"]["http"][0]["retries"] = {"attempts": 0}
    assert retries_from_virtual_service(vs).retry_on == ("gateway-error",)


@pytest.mark.parametrize(
    ("retries", "message"),
    [
        ({"attempts": "two"}, "spec.http[0].retries.attempts: not an integer: 'two'"),
        ({"attempts": 2, "perTryTimeout": "soon"}, "spec.http[0].retries.perTryTimeout: not a duration: 'soon'"),
        ({"attempts": 2, "perTryTimeout": "0s"}, "spec.http[0].retries.perTryTimeout: must be more than 0"),
        ("always", "spec.http[0].retries: not a mapping: 'always'"),
    ],
)
def test_a_malformed_retries_field_is_named(retries: Any, message: str) -> None:
    with pytest.raises(ValueError, match="VirtualService aideon-backend/api-gateway: ") as info:
        retries_from_virtual_service(_with_retries(retries))
    assert message in str(info.value)


def test_every_pool_of_a_service_gets_its_routes_retries_and_haproxy_accepts_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vs = _vs(_dest("v1", 90), _dest("v2", 10))
    vs["spec"]["http"][0]["retries"] = {"attempts": 2, "perTryTimeout": "3s", "retryOn": "5xx,retriable-4xx"}
    with caplog.at_level(logging.WARNING, logger="aideon.dataplane.rules"):
        mesh = mesh_from({"api-gateway": DR}, {"api-gateway": vs})
    assert "api-gateway: the local proxy cannot retry on retriable-4xx" in caplog.text
    proxies = {p.service: p for p in mesh.proxies({"api-gateway": 18080, "auth-service": 18081})}
    for pool in ("api-gateway", "api-gateway.v1", "api-gateway.v2"):
        assert (proxies[pool].retries.count, proxies[pool].retries.timeout_server_s) == (2, 3.0), pool
    assert proxies["auth-service"].retries.retry_on == ("conn-failure", "503")  # no VirtualService: the default
    text = render_config(list(proxies.values()), tmp_path / "s.sock", 18082)
    section = text[text.index("\nbackend be_api-gateway.v2\n"):].lstrip()
    section = section[: section.index("\n\n")]
    assert "    retries 2" in section and "    timeout server 3000ms" in section
    assert f"    retry-on {' '.join([*NO_ANSWER, '500', '501', '502', '503', '504'])}" in section
    assert "    http-request set-header x-aideon-pool be_api-gateway.v2" in section
    cfg = tmp_path / "h.cfg"
    cfg.write_text(text)
    check = subprocess.run([haproxy_binary(), "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
