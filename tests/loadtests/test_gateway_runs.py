"""The locustfile run for real against a stand-in on 127.0.0.1: local, distributed, failing, bad input."""

from __future__ import annotations

import re
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from aideon_resilience.adapters.localhost import free_port
from aideon_resilience.core.evidence.loadstats import AGGREGATED, read_windows
from aideon_resilience.core.profiles import ROUTES

from .conftest import BIN, LOCUSTFILE, REPO, locust_env, run_locust

ENDPOINTS = {r.endpoint for r in ROUTES.values()}


@pytest.mark.slow
def test_headless_run_exercises_every_journey_without_failures(standin: str, tmp_path: Path) -> None:
    windows = tmp_path / "windows.jsonl"
    result = run_locust(
        ["--headless", "-u", "20", "-r", "20", "-t", "5s", "--host", standin, "--only-summary",
         "--windows-file", str(windows), "--window-seconds", "1", "--max-error-ratio", "0"],
    )
    assert result.code == 0, result.out[-2000:]
    assert "aideon thresholds: passed" in result.out
    stats = read_windows(windows)
    assert {s.endpoint for s in stats if s.endpoint != AGGREGATED} == ENDPOINTS
    aggregated = [s for s in stats if s.endpoint == AGGREGATED]
    assert len(aggregated) >= 4 and sum(s.failures for s in aggregated) == 0
    assert all(s.end - s.start <= 1.0 for s in aggregated)
    busy = [s for s in aggregated if s.requests > 0]
    assert all(s.p50_ms is not None and s.p50_ms <= s.p95_ms <= s.p99_ms for s in busy)  # type: ignore[operator]


@pytest.mark.slow
def test_distributed_master_and_two_workers_merge_windows(standin: str, tmp_path: Path) -> None:
    windows = tmp_path / "windows.jsonl"
    port = free_port()
    env = locust_env()
    base = [str(BIN / "locust"), "-f", str(LOCUSTFILE)]
    master = subprocess.Popen(
        [*base, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
         "--expect-workers", "2", "--headless", "-u", "20", "-r", "20", "-t", "6s", "--host", standin,
         "--only-summary", "--windows-file", str(windows), "--window-seconds", "2", "--max-error-ratio", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
    )
    workers = [
        subprocess.Popen(
            [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO,
        )
        for _ in range(2)
    ]
    try:
        out, _ = master.communicate(timeout=40)
        worker_codes = [w.wait(timeout=20) for w in workers]
    finally:
        procs: list[subprocess.Popen[str] | subprocess.Popen[bytes]] = [master, *workers]
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert master.returncode == 0, out[-2000:]
    assert worker_codes == [0, 0]
    assert "(from 2 workers)" in out
    m = re.search(r"aideon thresholds: passed \((\d+) requests", out)
    assert m, out[-2000:]
    stats = read_windows(windows)
    aggregated = [s for s in stats if s.endpoint == AGGREGATED]
    assert sum(s.requests for s in aggregated) == int(m.group(1))  # every request of both workers, once
    assert len({s.start for s in aggregated}) >= 3 and all(s.end - s.start <= 2 for s in aggregated)
    assert {s.endpoint for s in stats if s.endpoint != AGGREGATED} == ENDPOINTS
    assert max(s.users for s in aggregated) == 20


@pytest.mark.slow
def test_failing_standin_makes_the_thresholds_fail_the_run(standin: str, tmp_path: Path) -> None:
    req = urllib.request.Request(standin + "/admin/fail?status=503", method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200
    windows = tmp_path / "windows.jsonl"
    result = run_locust(
        ["--headless", "-u", "10", "-r", "10", "-t", "3s", "--host", standin, "--only-summary",
         "--windows-file", str(windows), "--max-error-ratio", "0.05"],
    )
    assert result.code == 1
    assert re.search(r"aideon thresholds: FAILED: error ratio 0\.\d+ > 0\.05", result.out)
    aggregated = [s for s in read_windows(windows) if s.endpoint == AGGREGATED and s.requests]
    assert aggregated and max(s.error_ratio for s in aggregated) > 0.5


def test_unreachable_host_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_locust(["--headless", "-u", "1", "-r", "1", "-t", "2s", "--host", url])
    assert result.code == 3
    assert f"gateway.py: cannot reach the gateway at {url}" in result.out


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--max-error-ratio", "2"], {}, "locust: --max-error-ratio: '2' must be between 0 and 1"),
        (["--window-seconds", "0"], {}, "locust: --window-seconds: '0' must be a whole number"),
        (["--windows-file", "/nonexistent-dir/w.jsonl"], {}, "--windows-file: /nonexistent-dir/w.jsonl"),
        ([], {"AIDEON_SHAPE": "zigzag"}, "AIDEON_SHAPE='zigzag'"),
        ([], {"AIDEON_THINK_TIME": "5,1"}, "AIDEON_THINK_TIME='5,1'"),
    ],
)
def test_bad_options_exit_2_with_one_clear_line(args: list[str], env: dict[str, str], message: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # never contacted: the options are refused first
    result = run_locust(["--headless", "-u", "1", "-t", "1s", "--host", url, *args], env=locust_env(**env))
    assert result.code == 2, result.out[-1500:]
    assert message in result.out


def test_unknown_option_is_refused_by_locust() -> None:
    result = run_locust(["--headless", "--no-such-option"])
    assert result.code != 0
    assert "--no-such-option" in result.out


def test_shape_is_picked_explicitly(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_locust(
        ["--headless", "--host", url, "--list"], env=locust_env(AIDEON_SHAPE="ramp", AIDEON_ENV="moon")
    )
    assert result.code == 2 and "AIDEON_ENV='moon'" in result.out  # the ramp shape was loaded


@pytest.mark.slow
def test_surge_shape_runs_up_and_back_down_then_stops(standin: str, tmp_path: Path) -> None:
    windows = tmp_path / "windows.jsonl"
    env = locust_env(AIDEON_SHAPE="surge", AIDEON_TARGET_USERS="12", AIDEON_SURGE_BASE="2", AIDEON_SPAWN_RATE="2",
                     AIDEON_SURGE_PHASES="2,3,2")
    result = run_locust(
        ["--headless", "--host", standin, "--only-summary", "--windows-file", str(windows), "--window-seconds", "1"],
        env=env,
    )
    assert result.code == 0, result.out[-2000:]
    users = [s.users for s in read_windows(windows) if s.endpoint == AGGREGATED]
    peak = users.index(max(users))
    assert max(users) == 12 and 0 < peak < len(users) - 1
    assert min(users[peak:]) <= 2  # back to the base before the shape stopped the run


@pytest.mark.slow
def test_locust_conf_defaults_apply_and_the_command_line_overrides_them(standin: str) -> None:
    result = run_locust(
        ["--config", "loadtests/locust.conf", "--host", standin, "-u", "3", "-r", "3", "-t", "2s",
         "--max-error-ratio", "0"],
    )
    assert result.code == 0, result.out[-2000:]
    assert '"GatewayUser": 3' in result.out and "aideon thresholds: passed" in result.out


@pytest.mark.slow
def test_signed_out_users_sign_in_again_and_send_no_call_without_a_token(standin: str, tmp_path: Path) -> None:
    """An auth outage is counted once per failed sign-in, not multiplied into 401s by users that lost
    their session: a user without a token signs in before each authenticated call, and skips the
    call while that fails, as the platform's clients do."""

    def admin(action: str) -> None:
        req = urllib.request.Request(f"{standin}/admin/{action}", method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200

    admin("fail?status=502")
    recover = threading.Timer(1.5, admin, args=("recover",))
    recover.start()
    windows = tmp_path / "windows.jsonl"
    try:
        result = run_locust(["--headless", "-u", "10", "-r", "10", "-t", "5s", "--host", standin,
                             "--only-summary", "--windows-file", str(windows)])
    finally:
        recover.join()
    assert "POST /api/v1/auth/login: LocustBadStatusCode(code=502)" in result.out, result.out[-3000:]
    assert "code=401" not in result.out, result.out[-3000:]
    served = {s.endpoint for s in read_windows(windows) if s.endpoint != AGGREGATED and s.requests}
    assert "POST /api/v1/chat/completions" in served  # calls resumed once the users signed in
