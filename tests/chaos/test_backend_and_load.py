"""Failing backend switch over the loopback admin endpoint; bounded Locust runs."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest
from chaoslib.exceptions import ActivityFailed

from aideon_resilience.adapters.dataplane.state import DataPlaneState, write_state
from aideon_resilience.chaos import rollback, undo
from aideon_resilience.chaos.actions import fail_backend, fail_pod_backends, recover_backend, start_load, stop_load
from aideon_resilience.errors import SafetyRefusal
from tests.chaos.fakekube import FakeKube, pod
from tests.chaos.loopback import serve

ROUTES = {("POST", "/admin/fail"): (200, '{"failing": true}'), ("POST", "/admin/recover"): (200, '{"failing": false}')}


def test_fail_then_recover_backend(fake: FakeKube, undo_dir: Path) -> None:
    with serve(ROUTES) as (url, seen):
        out = fail_backend(url)
        assert out["backends"][0]["body"] == {"failing": True}
        assert len(undo.current().pending("backend_recover")) == 1
        back = recover_backend()
        assert seen == [("POST", "/admin/fail"), ("POST", "/admin/recover")]
    assert back["backends"][0]["body"] == {"failing": False}
    assert undo.current().pending() == []
    json.dumps(out), json.dumps(back)


def test_undo_replay_recovers_a_failed_backend(fake: FakeKube, undo_dir: Path) -> None:
    with serve(ROUTES) as (url, seen):
        fail_backend(url)
        result = rollback.replay(undo_dir)
        assert seen[-1] == ("POST", "/admin/recover")
    assert result.undone == [f"recover backend {url}"]


def _canary(fake: FakeKube, tmp_path: Path, port: int, ready: bool = True) -> Path:
    """Two canary pods and a stable one; the data plane's state has their stand-ins, the first on `port`."""
    fake.core.namespaces["aideon-backend"] = {"chaos.aideon.io/allowed": "true"}
    labels = {
        "v1": {"app.kubernetes.io/name": "api-gateway", "version": "v1"},
        "v2": {"app.kubernetes.io/name": "api-gateway", "version": "v2"},
    }
    for name, version in (("gw-v2-a", "v2"), ("gw-v2-b", "v2"), ("gw-v1-a", "v1")):
        fake.core.pods[("aideon-backend", name)] = pod(name, "aideon-backend", "node-a1", labels[version])
    standins = [
        {"namespace": "aideon-backend", "pod": name, "port": p, "ready": ready, "terminating": False}
        for name, p in (("gw-v2-a", port), ("gw-v2-b", 9), ("gw-v1-a", 9))
    ]
    workdir = tmp_path / "dataplane"
    write_state(workdir, DataPlaneState(pid=1, status="running", standins=standins))
    return workdir


def test_fail_pod_backends_fails_the_selected_pods_stand_ins_found_in_the_data_plane(
    fake: FakeKube,
    undo_dir: Path,
    tmp_path: Path,
) -> None:
    with serve(ROUTES) as (url, seen):
        workdir = _canary(fake, tmp_path, int(url.rsplit(":", 1)[1]))
        out = fail_pod_backends("aideon-backend", "version=v2", str(workdir), count=1)
        assert out["pods"] == ["gw-v2-a"] and seen == [("POST", "/admin/fail")]
        assert [s.params["url"] for s in undo.current().pending("backend_recover")] == [url]
        recover_backend()
        assert seen[-1] == ("POST", "/admin/recover")
    assert undo.current().pending() == []


def test_fail_pod_backends_waits_for_a_serving_stand_in_and_says_which_is_missing(
    fake: FakeKube,
    undo_dir: Path,
    tmp_path: Path,
) -> None:
    workdir = _canary(fake, tmp_path, 9, ready=False)
    with pytest.raises(ActivityFailed, match=r"no serving stand-in for gw-v2-a, gw-v2-b in the data plane"):
        fail_pod_backends("aideon-backend", "version=v2", str(workdir), count=2, timeout=0.2)
    with pytest.raises(ActivityFailed, match=r"3 pod\(s\) to fail, 2 running match 'version=v2'"):
        fail_pod_backends("aideon-backend", "version=v2", str(workdir), count=3, timeout=0.2)
    with pytest.raises(SafetyRefusal, match="explicit target"):
        fail_pod_backends("aideon-backend", "", str(workdir))
    assert undo.pending_steps(undo_dir) == []


def test_backend_must_be_loopback_and_explicit(undo_dir: Path) -> None:
    with pytest.raises(SafetyRefusal, match="not a loopback address"):
        fail_backend("http://10.0.0.5:8080")
    with pytest.raises(SafetyRefusal, match="explicit target"):
        fail_backend("")
    assert undo.pending_steps(undo_dir) == []


def test_admin_error_is_an_activity_failure(fake: FakeKube, undo_dir: Path) -> None:
    with serve({}) as (url, _seen), pytest.raises(Exception, match="answered 404"):
        fail_backend(url)


def test_load_is_bounded_and_loopback_only(undo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lf = tmp_path / "lf.py"
    lf.write_text("")
    with pytest.raises(SafetyRefusal, match="not a loopback address"):
        start_load("http://example.com", locustfile=str(lf))
    monkeypatch.setenv("AIDEON_CHAOS_MAX_USERS", "10")
    with pytest.raises(Exception, match="users 11 is above the limit 10"):
        start_load("http://127.0.0.1:9", users=11, locustfile=str(lf))
    with pytest.raises(Exception, match="duration 100000 is above the limit"):
        start_load("http://127.0.0.1:9", users=1, duration=100000, locustfile=str(lf))
    assert undo.pending_steps(undo_dir) == []


def test_started_load_is_stopped_by_stop_load(fake: FakeKube, undo_dir: Path, tmp_path: Path) -> None:
    # a locustfile with a user that never sends traffic: this checks the process control only
    lf = tmp_path / "idle.py"
    lf.write_text(
        "from locust import User, constant\n"
        "class Idle(User):\n"
        "    wait_time = constant(1)\n"
        "    from locust import task\n"
        "    @task\n"
        "    def nothing(self):\n"
        "        pass\n"
    )
    out = start_load("http://127.0.0.1:9", users=1, duration=60, locustfile=str(lf))
    pid = out["pid"]
    try:
        assert psutil.pid_exists(pid)
        assert out["undo_step"].endswith(".undo.json")
        stopped = stop_load()
        assert len(stopped["stopped"]) == 1
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    finally:
        if psutil.pid_exists(pid):
            psutil.Process(pid).kill()
    assert undo.current().pending() == []


def test_load_control_starts_nothing_without_url_or_with_external_load(
    undo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aideon_resilience.chaos.controls import load as load_control

    monkeypatch.delenv("AIDEON_GATEWAY_URL", raising=False)
    load_control.before_experiment_control(context={})
    assert "started" not in load_control._state
    monkeypatch.setenv("AIDEON_GATEWAY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AIDEON_LOAD_EXTERNAL", "1")
    load_control.before_experiment_control(context={})
    assert "started" not in load_control._state
    journal: dict[str, object] = {}
    load_control.after_experiment_control(context={}, state=journal)
    assert journal == {}
    assert undo.pending_steps(undo_dir) == []
