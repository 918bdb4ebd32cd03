"""The gate's local load: one process, or a master and N workers on loopback in one process group."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from aideon_resilience.chaos import undo
from aideon_resilience.cli.main import main
from aideon_resilience.core.config.gate import LoadConfig
from aideon_resilience.core.evaluate import RunData
from aideon_resilience.core.evaluate.client import evaluate_client
from aideon_resilience.core.evaluate.slo import ClientSlo
from aideon_resilience.core.evaluate.verdict import Status
from aideon_resilience.core.evidence.loadstats import AGGREGATED, read_windows, worker_changes
from aideon_resilience.gate.load_process import load_environment, locust_command, start_load, worker_command
from tests.loadtests.conftest import LOCUSTFILE, standin  # noqa: F401  (the stand-in fixture)


def _load(**kw: object) -> LoadConfig:
    return LoadConfig.model_validate({"shape": "none", "users": 6, "spawn_rate": 6, **kw})


def test_one_process_without_workers() -> None:
    cmd = locust_command(_load(workers=0), LOCUSTFILE, "http://127.0.0.1:1", Path("w.jsonl"), 30)
    assert "--master" not in cmd and "--processes" not in cmd
    assert cmd[cmd.index("--run-time") + 1] == "30s"


def test_workers_make_a_loopback_master_that_waits_for_all_of_them() -> None:
    cmd = locust_command(_load(workers=3), LOCUSTFILE, "http://127.0.0.1:1", Path("w.jsonl"), 30, master_port=5599)
    assert cmd[cmd.index("--master-bind-host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--master-bind-port") + 1] == "5599"
    assert cmd[cmd.index("--expect-workers") + 1] == "3"
    worker = worker_command(LOCUSTFILE, 5599)
    assert worker[worker.index("--master-host") + 1] == "127.0.0.1" and "--worker" in worker
    with pytest.raises(ValueError):
        locust_command(_load(workers=3), LOCUSTFILE, "http://127.0.0.1:1", Path("w.jsonl"), 30)


def test_every_process_gets_the_gate_yaml_shape() -> None:
    env = load_environment(_load(shape="ramp", users=500, spawn_rate=50), Path("/r/w.jsonl"), 900, "staging",
                           base={"PATH": "/bin"})
    assert env["AIDEON_SHAPE"] == "ramp" and env["AIDEON_TARGET_USERS"] == "500"
    assert env["AIDEON_SPAWN_RATE"] == "50" and env["AIDEON_SHAPE_SECONDS"] == "900"
    assert env["AIDEON_ENV"] == "staging" and env["AIDEON_WINDOWS_FILE"] == "/r/w.jsonl"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def quick_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIDEON_WINDOW_SECONDS", "1")
    monkeypatch.setenv("AIDEON_THINK_TIME", "0.05,0.1")


@pytest.mark.slow
@pytest.mark.usefixtures("quick_windows")
def test_master_and_two_workers_merge_every_window_and_stop_together(standin: str, tmp_path: Path) -> None:  # noqa: F811
    windows = tmp_path / "locust-windows.jsonl"
    run = start_load(_load(workers=2), LOCUSTFILE, standin, tmp_path, windows, 6, "local")
    try:
        assert run.process.wait(60) == 0, (tmp_path / "locust.log").read_text()[-2000:]
    finally:
        run.stop(grace=10)
    assert not any(_alive(p.pid) for p in run.processes)
    assert undo.pending_steps(tmp_path) == []  # stopped by the gate: nothing left for `rollback`
    agg = [w for w in read_windows(windows) if w.endpoint == AGGREGATED]
    assert {w.workers for w in agg} == {2}
    merged = [w for w in agg if w.merged]
    # only the windows written as the master quits may miss the workers' last report (every 3 s)
    assert all(w.merged for w in agg if w.end < agg[-1].end - 3)
    assert sum(w.requests for w in merged) > 0 and max(w.users for w in agg) == 6
    assert worker_changes(agg, 2) == []


@pytest.mark.slow
@pytest.mark.usefixtures("quick_windows")
def test_a_worker_that_drops_out_is_recorded_and_makes_the_client_slo_inconclusive(
    standin: str, tmp_path: Path  # noqa: F811
) -> None:
    windows = tmp_path / "locust-windows.jsonl"
    run = start_load(_load(workers=2), LOCUSTFILE, standin, tmp_path, windows, 16, "local")
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not (windows.is_file() and windows.stat().st_size):
            time.sleep(0.5)
        time.sleep(2)
        run.processes[2].send_signal(signal.SIGKILL)  # one worker dies without a word
        assert run.process.wait(60) == 0, (tmp_path / "locust.log").read_text()[-2000:]
    finally:
        run.stop(grace=10)
    assert not any(_alive(p.pid) for p in run.processes)
    stats = read_windows(windows)
    agg = [w for w in stats if w.endpoint == AGGREGATED]
    assert agg[0].workers == 2 and agg[-1].workers == 1
    assert any(not w.merged for w in agg)  # the dead worker's last share never arrived
    (event,) = worker_changes(agg, 2)
    assert (event.previous, event.workers) == (2, 1)
    slo = ClientSlo.model_validate({"id": "c", "family": "client", "max_error_ratio": 0.5})
    data = RunData(windows=stats, timeline=None, t0=agg[0].start, load_workers=2, max_worker_loss=0.1)
    result = evaluate_client(slo, data, 0.8)
    assert result.status is Status.INCONCLUSIVE and "lost 1 of 2" in result.message
    tolerant = RunData(windows=stats, timeline=None, t0=agg[0].start, load_workers=2, max_worker_loss=0.5)
    assert evaluate_client(slo, tolerant, 0.8).status is Status.PASS


@pytest.mark.slow
@pytest.mark.usefixtures("quick_windows")
def test_a_gate_killed_outright_leaves_its_locust_group_to_the_rollback_command(
    standin: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    """SIGKILL to the gate leaves the master and workers running; `rollback RUN_DIR` stops them all."""
    run = start_load(_load(workers=2), LOCUSTFILE, standin, tmp_path, tmp_path / "locust-windows.jsonl", 60, "local")
    try:
        time.sleep(2)
        assert all(_alive(p.pid) for p in run.processes)
        assert main(["rollback", str(tmp_path)]) == 0  # the gate never stopped them: it was killed
        assert "undone: stop the gate's Locust run" in capsys.readouterr().out
        for p in run.processes:
            p.wait(20)
        assert not any(_alive(p.pid) for p in run.processes)
    finally:
        for p in run.processes:
            if p.poll() is None:
                p.kill()
