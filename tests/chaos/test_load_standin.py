"""The load control and the backend switch against a real stand-in gateway and real Locust."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from aideon_resilience.adapters.standin.process import running_standin
from aideon_resilience.chaos import undo
from aideon_resilience.chaos.actions import fail_backend, recover_backend
from aideon_resilience.chaos.controls import load as load_control
from aideon_resilience.chaos.probes import client_slo
from aideon_resilience.core.evidence.loadstats import read_windows

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def gateway() -> Iterator[str]:
    with running_standin("api-gateway") as standin:
        yield standin.url


def _wait_windows(path: Path, after: float, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.is_file() and any(w.end > after for w in read_windows(path)):
            return
        time.sleep(0.5)
    raise AssertionError(f"no window after {after} in {path}")


@pytest.mark.slow
def test_load_control_drives_locust_and_the_client_probe_sees_a_failing_backend(
    gateway: str, undo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIDEON_GATEWAY_URL", gateway)
    monkeypatch.setenv("KUBERNETES_CONTEXT", "kwok-aideon")  # the load's action checks the context too
    monkeypatch.setenv("AIDEON_LOCUSTFILE", str(REPO / "loadtests" / "gateway.py"))
    monkeypatch.setenv("AIDEON_LOAD_USERS", "4")
    monkeypatch.setenv("AIDEON_LOAD_SPAWN_RATE", "4")
    monkeypatch.setenv("AIDEON_LOAD_MAX_SECONDS", "60")
    monkeypatch.setenv("AIDEON_WINDOW_SECONDS", "1")
    monkeypatch.setenv("AIDEON_THINK_TIME", "0.05,0.1")
    monkeypatch.delenv("AIDEON_WINDOWS_FILE", raising=False)
    monkeypatch.delenv("AIDEON_LOAD_EXTERNAL", raising=False)
    undo.start_run("load-run")
    load_control.before_experiment_control(context={})
    journal: dict[str, object] = {}
    try:
        pid = load_control._state["started"]["pid"]
        windows = Path(load_control._state["started"]["windows_file"])
        assert windows.parent == undo_dir / "load-run"
        _wait_windows(windows, time.time())
        assert client_slo(max_error_ratio=0.2, since_seconds=3)["ok"] is True
        fail_backend(gateway)
        failing_since = time.time()
        time.sleep(1)
        _wait_windows(windows, failing_since + 1)
        broken = client_slo(max_error_ratio=0.2, since_seconds=2)
        assert broken["ok"] is False and broken["breaches"], broken
        recover_backend()
    finally:
        load_control.after_experiment_control(context={}, state=journal)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert journal["aideon_load"]["stopped"]  # type: ignore[index]
    assert undo.pending_steps(undo_dir) == []
