from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aideon_resilience.adapters.standin.process import running_standin
from aideon_resilience.adapters.standin.server import StandinConfig, burn_cpu
from aideon_resilience.adapters.standin.upstream import is_loopback_host, upstreams_from_env
from aideon_resilience.errors import SafetyRefusal, UsageError
from tests.standins import standin_state

from .conftest import Call, client, running


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_probes_and_login_and_auth(gateway: tuple[int, Call]) -> None:
    _, call = gateway
    assert call("GET", "/health", token=None)[0] == 200
    assert call("GET", "/ready", token=None)[0] == 200
    status, body = call("POST", "/api/v1/auth/login", b'{"username":"u"}', token=None)
    assert status == 200 and json.loads(body)["access_token"]
    assert call("GET", "/api/v1/subscriptions/u-1", token=None)[0] == 401
    status, body = call("GET", "/api/v1/subscriptions/u-1")
    assert status == 200 and json.loads(body)["user"] == "u-1"
    assert call("GET", "/api/v1/nothing")[0] == 404
    assert call("GET", "/api/v1/chat/completions")[0] == 405


def test_metrics_count_requests_by_route_and_code(gateway: tuple[int, Call]) -> None:
    _, call = gateway
    for _ in range(3):
        call("POST", "/api/v1/analytics/events", b"{}")
    call("GET", "/api/v1/knowledge/search?q=a", token=None)
    status, body = call("GET", "/metrics")
    text = body.decode()
    assert status == 200
    assert metric(text, "aideon_standin_requests_total", route="/api/v1/analytics/events", code="202") == 3
    assert metric(text, "aideon_standin_requests_total", route="/api/v1/knowledge/search", code="401") == 1
    assert metric(text, "aideon_standin_request_duration_seconds_count", route="/api/v1/analytics/events") == 3
    assert re.search(r"^process_cpu_seconds_total \d+\.\d+$", text, re.M)
    assert re.search(r'aideon_standin_mode\{service="api-gateway",mode="ok"\} 1', text)


def test_keep_alive_and_pipelined_requests_answer_in_order(gateway: tuple[int, Call]) -> None:
    port, _ = gateway
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        req = (
            b"GET /api/v1/subscriptions/first HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n"
            b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /api/v1/subscriptions/second HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n"
        )
        s.sendall(req)
        data = b""
        while data.count(b"HTTP/1.1 200") < 3:
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
    assert data.index(b"first") < data.index(b"api-gateway") < data.index(b"second")
    assert b"Connection: close" not in data


def test_admin_fail_and_recover(gateway: tuple[int, Call]) -> None:
    _, call = gateway
    assert call("POST", "/admin/fail?status=500")[0] == 200
    assert call("GET", "/api/v1/subscriptions/u")[0] == 500
    assert call("GET", "/ready")[0] == 200  # probes unaffected unless asked
    assert call("POST", "/admin/fail?probes=1")[0] == 200
    assert call("GET", "/ready")[0] == 503
    assert call("POST", "/admin/fail?status=200")[0] == 400
    assert call("POST", "/admin/recover")[0] == 200
    assert call("GET", "/api/v1/subscriptions/u")[0] == 200
    assert json.loads(call("GET", "/admin/state")[1])["mode"] == "ok"


def test_admin_hang_holds_requests_until_recover(gateway: tuple[int, Call]) -> None:
    port, call = gateway
    call("POST", "/admin/hang")
    s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
    s.sendall(b"GET /api/v1/subscriptions/u HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\r\n")
    with pytest.raises(TimeoutError):
        s.recv(100)
    call("POST", "/admin/recover")
    s.settimeout(5)
    assert s.recv(100).startswith(b"HTTP/1.1 200")
    s.close()


def test_malformed_request_gets_400_and_close(gateway: tuple[int, Call]) -> None:
    port, _ = gateway
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"NONSENSE\r\n\r\n")
        assert s.recv(200).startswith(b"HTTP/1.1 400")


def test_burn_cpu_spends_process_cpu() -> None:
    before = time.thread_time()
    burn_cpu(30)
    assert time.thread_time() - before >= 0.03


def test_gateway_calls_the_next_service_and_maps_its_failure_to_502() -> None:
    with running(StandinConfig("llm-provider-service", cpu_scale=0, latency_scale=0)) as llm_port:
        llm = client(llm_port)
        upstreams = upstreams_from_env({"AIDEON_UPSTREAM_LLM_PROVIDER_SERVICE": f"http://127.0.0.1:{llm_port}"})
        with running(StandinConfig("api-gateway", cpu_scale=0, latency_scale=0, upstreams=upstreams)) as gw_port:
            gw = client(gw_port)
            assert gw("POST", "/api/v1/chat/completions", b"{}")[0] == 200
            assert gw("POST", "/api/v1/chat/completions", b"{}", token=None)[0] == 401
            text = llm("GET", "/metrics")[1].decode()
            assert metric(text, "aideon_standin_requests_total", route="/api/v1/chat/completions", code="200") == 1
            llm("POST", "/admin/fail")
            assert gw("POST", "/api/v1/chat/completions", b"{}")[0] == 502
            # routes that do not go through the LLM provider are unaffected
            assert gw("GET", "/api/v1/subscriptions/u")[0] == 200


def test_loopback_only() -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("::1") and is_loopback_host("localhost")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("192.0.2.1")
    with pytest.raises(SafetyRefusal, match="non-loopback upstream"):
        upstreams_from_env({"AIDEON_UPSTREAM_VECTOR_DB": "http://192.0.2.1:80"})
    with pytest.raises(UsageError, match="AIDEON_UPSTREAM_VECTOR_DB"):
        upstreams_from_env({"AIDEON_UPSTREAM_VECTOR_DB": "not a url"})


CLI = [str(Path(sys.executable).parent / "aideon-resilience"), "standin"]


def test_cli_serves_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen([*CLI, "api-gateway", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.match(r"standin api-gateway listening on http://127\.0\.0\.1:(\d+)", line)
        assert m, line
        assert client(int(m.group(1)))("GET", "/health")[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["api-gateway", "--port", "0", "--host", "0.0.0.0"], "refusing non-loopback address '0.0.0.0'"),
        (["no-such-service", "--port", "0"], "unknown service 'no-such-service'"),
        (["api-gateway", "--port", "70000"], "is not a TCP port"),
    ],
)
def test_cli_bad_input_exit_2_one_line(args: list[str], message: str) -> None:
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=30, env=os.environ)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_cli_port_in_use_is_refused_as_unusable_input() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([*CLI, "api-gateway", "--port", str(port)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr == f"aideon-resilience: standin: --port: 127.0.0.1:{port} is already in use\n"


def test_missing_upstream_is_simulated_from_the_chain_profiles() -> None:
    from aideon_resilience.adapters.standin.server import Standin
    from aideon_resilience.core.profiles import ROUTES

    chat, health = ROUTES["/api/v1/chat/completions"], ROUTES["/health"]
    alone = Standin(StandinConfig("api-gateway", seed=5))
    draws = sorted(alone.simulated_downstream_ms(chat) for _ in range(201))
    assert draws[100] == pytest.approx(300, rel=0.25)  # the LLM provider's median latency
    assert alone.simulated_downstream_ms(health) == 0.0
    wired = Standin(StandinConfig("api-gateway", upstreams={"llm-provider-service": ("127.0.0.1", 9)}))
    assert wired.simulated_downstream_ms(chat) == 0.0
    assert Standin(StandinConfig("api-gateway", latency_scale=0)).simulated_downstream_ms(chat) == 0.0


def test_admin_memory_holds_resident_memory_and_gives_it_back(gateway: tuple[int, Call]) -> None:
    """What memory autoscaling of the local data plane reads: the process's resident memory."""
    import json

    import psutil

    _, call = gateway
    me = psutil.Process()
    before = me.memory_info().rss
    assert call("POST", "/admin/memory?mib=64")[0] == 200
    held = me.memory_info().rss
    assert held - before >= 60 * 1024 * 1024, f"only {(held - before) / 2**20:.0f} MiB became resident"
    assert json.loads(call("GET", "/admin/state")[1])["held_mib"] == 64
    assert call("POST", "/admin/memory?mib=0")[0] == 200
    assert held - me.memory_info().rss >= 50 * 1024 * 1024, "the memory was not given back"
    assert call("POST", "/admin/memory?mib=5000")[0] == 400
    assert call("POST", "/admin/memory?mib=lots")[0] == 400


def test_a_standin_run_by_hand_ignores_a_shells_environment_and_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a pod's process (AIDEON_POD_NAME set by the data plane) reads the platform's aideon-config."""
    monkeypatch.delenv("AIDEON_POD_NAME", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "dev")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    with running_standin("api-gateway", "--latency-scale", "0") as standin:
        state = standin_state(standin.port)
    assert (state["environment"], state["log_level"], state["feature_flags"]) == (None, None, None)


def test_each_response_to_a_proxied_request_is_reported_as_an_attempt() -> None:
    """A request carrying the proxy's pool header is reported once answered, with the stand-in's own
    address and the status it gave; probes, scrapes and direct calls (no header) are not attempts;
    a connection the proxy closed before the answer (its server timeout) is not reported."""
    from aideon_resilience.adapters.dataplane.request_log import RequestLog, Response

    log = RequestLog()
    config = StandinConfig("api-gateway", cpu_scale=0.0, latency_scale=0.0, seed=1, attempt_log_port=log.port)
    try:
        with running(config) as port:
            call = client(port)

            def proxied(path: str) -> int:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", path, headers={"Authorization": "Bearer t", "X-Aideon-Pool": "be_api-gateway.v2"})
                status = conn.getresponse().status
                conn.close()
                return status

            assert proxied("/api/v1/subscriptions/u") == 200
            call("POST", "/admin/fail?status=500")
            assert proxied("/api/v1/subscriptions/u") == 500
            assert call("GET", "/api/v1/subscriptions/u")[0] == 500  # no header: not an attempt
            assert call("GET", "/ready")[0] == 200
            call("POST", "/admin/hang")
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /api/v1/subscriptions/u HTTP/1.1\r\nHost: x\r\nX-Aideon-Pool: be_api-gateway\r\n\r\n")
            s.close()  # the proxy gave up on it
            time.sleep(0.2)
            call("POST", "/admin/recover")
            got: list[Response] = []
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                got += log.read(0.2)
    finally:
        log.close()
    own = ("127.0.0.1", port)
    assert got == [Response("be_api-gateway.v2", own, 200, "server"), Response("be_api-gateway.v2", own, 500, "server")]
