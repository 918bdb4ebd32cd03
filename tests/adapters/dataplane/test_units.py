"""Data plane pieces without the cluster: outlier mapping, HAProxy configuration, state, CPU maths."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from aideon_resilience.adapters.dataplane import dataplane_env_lines, stop_dataplane
from aideon_resilience.adapters.dataplane.cpu import millicores, process_cpu_seconds, should_patch
from aideon_resilience.adapters.dataplane.prometheus import render_config as render_prometheus
from aideon_resilience.adapters.dataplane.prometheus import standin_targets
from aideon_resilience.adapters.dataplane.proxy import haproxy_binary
from aideon_resilience.adapters.dataplane.proxy_config import (
    OutlierPolicy,
    ServiceProxy,
    outlier_from_destination_rule,
    parse_duration,
    render_config,
)
from aideon_resilience.adapters.dataplane.request_log import Response, parse_line
from aideon_resilience.adapters.dataplane.state import DataPlaneOptions, DataPlaneState, read_state, write_state
from aideon_resilience.adapters.localcluster import ClusterPaths
from aideon_resilience.adapters.standin.attempt_report import attempt_line


def _dr(od: dict[str, object] | None) -> dict[str, object]:
    spec: dict[str, object] = {"host": "api-gateway.aideon-backend.svc.cluster.local"}
    if od is not None:
        spec["trafficPolicy"] = {"outlierDetection": od}
    return {"metadata": {"name": "api-gateway", "namespace": "aideon-backend"}, "spec": spec}


def test_outlier_detection_maps_every_field() -> None:
    p = outlier_from_destination_rule(
        _dr({"consecutive5xxErrors": 7, "interval": "2s", "baseEjectionTime": "1m", "maxEjectionPercent": 50})
    )
    assert (p.consecutive_5xx, p.interval_s, p.base_ejection_s, p.max_ejection_percent) == (7, 2.0, 60.0, 50)
    params = p.haproxy_server_params(agent_port=4999)
    # HAProxy does not eject on its own: the supervisor forces the agent of an ejected server down
    assert "observe" not in params and "error-limit" not in params
    assert "agent-check agent-addr 127.0.0.1 agent-port 4999" in params
    assert params.startswith("check inter 2s rise 1 fall 3")  # /ready as a readiness probe


def test_missing_outlier_detection_means_no_ejection_and_missing_fields_take_istio_defaults() -> None:
    p = outlier_from_destination_rule(_dr(None))
    assert not p.enabled and "no outlierDetection" in p.source
    assert p.haproxy_server_params(agent_port=4999) == "check inter 2s rise 1 fall 3"  # never forced down
    partial = outlier_from_destination_rule(_dr({"consecutive5xxErrors": 2}))
    assert (partial.consecutive_5xx, partial.base_ejection_s) == (2, 30.0)


@pytest.mark.parametrize(
    ("od", "field"),
    [
        ({"consecutive5xxErrors": "many"}, "consecutive5xxErrors"),
        ({"consecutive5xxErrors": 0}, "consecutive5xxErrors"),
        ({"interval": "soon"}, "interval"),
        ({"baseEjectionTime": "30 seconds"}, "baseEjectionTime"),
        ({"maxEjectionPercent": 150}, "maxEjectionPercent"),
    ],
)
def test_malformed_outlier_detection_names_the_field(od: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=rf"aideon-backend/api-gateway: spec.trafficPolicy.outlierDetection.{field}"):
        outlier_from_destination_rule(_dr(od))


def test_parse_duration_units() -> None:
    assert parse_duration("500ms", "x") == 0.5
    assert parse_duration("1.5s", "x") == 1.5
    assert parse_duration("2m", "x") == 120.0
    with pytest.raises(ValueError, match="x: not a duration"):
        parse_duration("10", "x")


def test_rendered_config_binds_loopback_only_and_haproxy_accepts_it(tmp_path: Path) -> None:
    services = [
        ServiceProxy("api-gateway", 18080, OutlierPolicy(3, 1.0, 10.0, 50, "test")),
        ServiceProxy("auth-service", 18081),
    ]
    text = render_config(
        services, tmp_path / "h.sock", 18999, request_log=(18998, "aideon-request %b %si:%sp %ST"), agent_port=18997
    )
    binds = [ln.split()[1] for ln in text.splitlines() if ln.strip().startswith("bind ")]
    assert sorted(binds) == ["127.0.0.1:18080", "127.0.0.1:18081", "127.0.0.1:18999"]
    assert "log 127.0.0.1:18998 len 1024 format raw local0 info info" in text
    assert 'log-format "aideon-request %b %si:%sp %ST"' in text
    gateway = text[text.index("backend be_api-gateway") : text.index("backend be_auth-service")]
    assert "agent-port 18997" in gateway and "observe" not in text
    auth = text[text.index("backend be_auth-service"):]
    # no DestinationRule: like Istio, no outlier detection, only health checks of /ready
    assert "agent-check" not in auth and "check inter" in auth
    assert "maxEjectionPercent=50" in gateway and "(Envoy's algorithm, applied by the supervisor)" in gateway
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    res = subprocess.run([haproxy_binary(), "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_prometheus_targets_and_config(tmp_path: Path) -> None:
    entries = standin_targets(
        [
            {"namespace": "ns", "pod": "p1", "service": "api-gateway", "port": 4000, "terminating": False},
            {"namespace": "ns", "pod": "p2", "service": "api-gateway", "port": None, "terminating": False},
            {"namespace": "ns", "pod": "p3", "service": "api-gateway", "port": 4001, "terminating": True},
        ]
    )
    assert entries == [
        {
            "targets": ["127.0.0.1:4000"],
            "labels": {
                "namespace": "ns",
                "pod": "p1",
                "service": "api-gateway",
                "app_kubernetes_io_name": "api-gateway",
            },
        }
    ]
    cfg = render_prometheus(tmp_path)
    files = [c["file_sd_configs"][0]["files"][0] for c in cfg["scrape_configs"]]
    assert files == [str(tmp_path / "standins.json"), str(tmp_path / "haproxy.json")]


def test_state_file_round_trip_and_env_lines(tmp_path: Path) -> None:
    paths = ClusterPaths(root=tmp_path)
    work = tmp_path / "dataplane"
    assert dataplane_env_lines(paths, work) == []
    # A stand-in for the supervisor: a process whose command line says `dataplane run`.
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "dataplane", "run"], start_new_session=True
    )
    try:
        state = DataPlaneState(pid=proc.pid, status="running", gateway_url="http://127.0.0.1:4321")
        write_state(work, state)
        back = read_state(work)
        assert back is not None and back.to_dict() == state.to_dict()
        assert dataplane_env_lines(paths, work) == ["export AIDEON_GATEWAY_URL=http://127.0.0.1:4321"]
        stop_dataplane(paths, work, timeout=5)
        assert proc.wait(timeout=5) is not None
        assert not (work / "state.json").exists()
        assert dataplane_env_lines(paths, work) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stale_state_gives_no_env(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    write_state(tmp_path, DataPlaneState(pid=proc.pid, status="running", gateway_url="http://127.0.0.1:1"))
    assert dataplane_env_lines(ClusterPaths(root=tmp_path), tmp_path) == []


def test_options_round_trip_to_supervisor_arguments() -> None:
    opts = DataPlaneOptions(
        namespaces=["a", "b"], timeout_server_s=1.5, prometheus=False, standin_args=["--cpu-scale", "3"]
    )
    assert opts.to_args() == [
        "--namespace", "a", "--namespace", "b", "--timeout-server", "1.5", "--cpu-period", "3",
        "--no-prometheus", "--standin-arg=--cpu-scale", "--standin-arg=3",
    ]  # fmt: skip


def test_cpu_maths() -> None:
    assert millicores(0.5, 2.0) == 250
    assert millicores(0.0, 2.0) == 1  # KWOK's floor
    assert millicores(1.0, 0.0) == 1
    assert should_patch(None, 1)
    assert not should_patch(100, 103)
    assert should_patch(100, 120)
    # /proc accounts CPU in scheduler ticks (10 ms), sampled: burn well above a tick's error
    start = process_cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    end = process_cpu_seconds(os.getpid())
    assert start is not None and end is not None and end - start >= 0.2


def test_stop_after_a_supervisor_crash_leaves_no_child(tmp_path: Path) -> None:
    # A "supervisor" leading its own process group with one "stand-in" child, then killed hard.
    code = (
        "import subprocess, sys, time\n"
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', 'standin'])\n"
        "print(c.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    sup = subprocess.Popen(
        [sys.executable, "-c", code, "dataplane", "run"], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert sup.stdout is not None
    child = int(sup.stdout.readline())
    try:
        write_state(tmp_path, DataPlaneState(pid=sup.pid, status="running"))
        sup.kill()
        sup.wait()
        assert psutil.pid_exists(child)
        stop_dataplane(ClusterPaths(root=tmp_path), tmp_path, timeout=2)
        assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, 9)


def test_request_log_lines_name_backend_server_status_and_who_answered() -> None:
    gw = ("127.0.0.1", 4001)
    # HAProxy passed the server's own response on (termination state `--`): what the client got
    assert parse_line(b"aideon-request be_gw 127.0.0.1:4001 503 --") == Response("be_gw", gw, 503, "proxy", False)
    assert parse_line("aideon-request be_x 127.0.0.1:4001 200 --\n") == Response("be_x", gw, 200)
    # HAProxy answered for the server: refused (SC), reset before headers (SH), timed out (sH, sC)
    for state, status in (("SC", 503), ("SH", 502), ("sH", 504), ("sC", 503)):
        assert parse_line(f"aideon-request be_x 127.0.0.1:4001 {status} {state}") == Response(
            "be_x", gw, status, "proxy", True)
    # the server's headers had arrived (SD): its response, already in its own report
    assert parse_line(b"aideon-request be_x 127.0.0.1:4001 200 SD").proxy_made is False  # type: ignore[union-attr]
    # HAProxy had no server (the pool had none usable): kept, with no server to count it against
    assert parse_line(b"aideon-request be_x - 503 SC") == Response("be_x", None, 503)
    assert parse_line(b"aideon-request be_x -:- 503 SC") == Response("be_x", None, 503)
    assert parse_line(b"aideon-request be_x 127.0.0.1:x 503 --") is None
    assert parse_line(b"aideon-request be_x 127.0.0.1:4001 -1 CR") is None  # the client went away
    assert parse_line(b"aideon-request be_x 127.0.0.1:4001 503") is None  # no termination state
    assert parse_line(b"Server be_x/s1 is DOWN, changed from CLI.") is None
    # a stand-in's report of one attempt (`standin.attempt_report`)
    assert parse_line(attempt_line("be_api-gateway.v2", "127.0.0.1:4001", 503)) == Response(
        "be_api-gateway.v2", gw, 503, "server")
    assert parse_line(b"aideon-attempt be_x -:- 503") is None  # an attempt always has its server
    assert parse_line(b"aideon-attempt be_x 127.0.0.1:4001 503 --") is None


class _Proxy:
    """What OutlierControl asks of HAProxy: which servers to force down."""

    def __init__(self) -> None:
        self.down: dict[str, set[tuple[str, int]]] = {}

    def set_forced_down(self, pool: str, hosts: set[tuple[str, int]]) -> None:
        self.down[pool] = set(hosts)


def test_pool_traffic_is_counted_per_pool_and_written_every_period(tmp_path: Path) -> None:
    """Every proxy line counts for its pool's responses (what the clients got), with outlier
    detection or without, and every stand-in attempt for its attempts; a 503 HAProxy had no server
    for counts as an error with no host and never reaches the detector; one line per pool that
    answered in the period, then the counts start again."""
    from aideon_resilience.adapters.dataplane.outlier_control import POOL_TRAFFIC_PERIOD_S, OutlierControl
    from aideon_resilience.adapters.dataplane.proxy_config import OutlierPolicy

    now = [100.0]
    events = tmp_path / "ejections.jsonl"
    control = OutlierControl(_Proxy(), events, None, clock=lambda: now[0], wall=lambda: 5000 + now[0])  # type: ignore[arg-type]
    a, b = ("127.0.0.1", 4001), ("127.0.0.1", 4002)
    v2, auth = "be_api-gateway.v2", "be_auth-service"
    control.configure("api-gateway.v2", OutlierPolicy(consecutive_5xx=2, max_ejection_percent=100))
    control.set_hosts("api-gateway.v2", [a, b])
    control.set_hosts("auth-service", [a])
    control.handle([Response(v2, a, 200, "server"), Response(v2, a, 200),
                    Response(v2, a, 503, "server"), Response(v2, a, 503), Response(v2, None, 503)])
    control.handle([Response(auth, a, 200, "server"), Response(auth, a, 200),
                    Response(auth, a, 500, "server"), Response(auth, a, 500)])
    assert not events.exists()  # the first period is not over
    assert control.snapshot()["api-gateway.v2"]["ejected"] == []  # the no-host 503 was not a's second 5xx
    now[0] += POOL_TRAFFIC_PERIOD_S
    control.handle([Response(v2, a, 502, "proxy", proxy_made=True)])  # a's second consecutive 5xx: ejected
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    traffic = {r["service"]: r for r in lines if r["kind"] == "pool_traffic"}
    assert traffic["api-gateway.v2"] == {
        "t": 5000 + now[0], "kind": "pool_traffic", "service": "api-gateway.v2", "period_s": POOL_TRAFFIC_PERIOD_S,
        "responses": 4, "errors": 3, "no_host": 1, "attempts": 3, "attempt_errors": 2,
        "hosts": 2, "ejected": 1, "panic": False,
    }  # fmt: skip
    assert (traffic["auth-service"]["responses"], traffic["auth-service"]["errors"]) == (2, 1)
    assert traffic["auth-service"]["ejected"] == 0  # no outlier detection there
    now[0] += 1
    control.handle([Response(auth, a, 200)])
    assert len(events.read_text().splitlines()) == len(lines)  # nothing until the next period ends
    now[0] += POOL_TRAFFIC_PERIOD_S
    control.handle([])
    last = json.loads(events.read_text().splitlines()[-1])
    assert (last["service"], last["responses"], last["errors"]) == ("auth-service", 1, 0)


def test_the_detector_counts_every_attempt_and_only_the_proxys_own_answers_of_its_lines(tmp_path: Path) -> None:
    """A retried attempt reaches the detector from the stand-in's report even when the client got
    another host's 200; HAProxy's line of a server's own response is not counted twice, its line
    of an answer it gave for a server (a timeout) is counted."""
    from aideon_resilience.adapters.dataplane.outlier_control import OutlierControl
    from aideon_resilience.adapters.dataplane.proxy_config import OutlierPolicy

    now = [100.0]
    proxy = _Proxy()
    control = OutlierControl(proxy, tmp_path / "e.jsonl", None, clock=lambda: now[0], wall=lambda: now[0])  # type: ignore[arg-type]
    a, b, gw = ("127.0.0.1", 4001), ("127.0.0.1", 4002), "be_api-gateway"
    control.configure("api-gateway", OutlierPolicy(consecutive_5xx=3, max_ejection_percent=100))
    control.set_hosts("api-gateway", [a, b])
    # two requests, each a's 503 retried on b: the clients got 200 from b
    for _ in range(2):
        control.handle([Response(gw, a, 503, "server"), Response(gw, b, 200, "server"), Response(gw, b, 200)])
    assert proxy.down["api-gateway"] == set()
    control.handle([Response(gw, a, 503, "server"), Response(gw, a, 503)])  # a's third attempt 5xx, logged once more
    assert proxy.down["api-gateway"] == {a}
    # b: a server's own 5xx counted once though HAProxy logged it too; then HAProxy's own 504 for b
    control.handle([Response(gw, b, 500, "server"), Response(gw, b, 500), Response(gw, b, 500, "server"),
                    Response(gw, b, 500)])
    assert proxy.down["api-gateway"] == {a}
    control.handle([Response(gw, b, 504, "proxy", proxy_made=True)])
    assert proxy.down["api-gateway"] == {a, b}
