"""Undo log on disk, replay, and `aideon-resilience rollback`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aideon_resilience.chaos import rollback, undo
from aideon_resilience.chaos.actions import drain_nodes
from aideon_resilience.cli.main import main
from tests.chaos.fakekube import FakeKube


def test_record_is_durable_json_and_pending_until_done(undo_dir: Path) -> None:
    log = undo.start_run("run-1")
    step = log.record("uncordon_node", {"node": "n1"}, "uncordon node n1", context="kwok-aideon")
    assert step.path.parent == undo_dir / "run-1"
    data = json.loads(step.path.read_text())
    assert data["kind"] == "uncordon_node" and data["params"] == {"node": "n1"}
    assert [s.params for s in log.pending()] == [{"node": "n1"}]
    undo.mark_done(step)
    assert log.pending() == []
    assert step.path.name.endswith(".done.json") and step.path.is_file()


def test_replay_undoes_newest_first_and_keeps_failures_pending(undo_dir: Path) -> None:
    order: list[str] = []

    def ok(params: dict[str, object], data: dict[str, object]) -> None:
        order.append(str(params["n"]))

    def broken(params: dict[str, object], data: dict[str, object]) -> None:
        raise RuntimeError("api down")

    undo.UNDOERS["test_ok"] = ok
    undo.UNDOERS["test_broken"] = broken
    try:
        log = undo.start_run("run-2")
        log.record("test_ok", {"n": "first"}, "first")
        log.record("test_broken", {}, "broken one")
        log.record("test_ok", {"n": "second"}, "second")
        result = rollback.replay(undo_dir)
        assert order == ["second", "first"]
        assert result.undone == ["second", "first"]
        assert result.failed == ["broken one: api down"]
        assert [s.kind for s in log.pending()] == ["test_broken"]
    finally:
        del undo.UNDOERS["test_ok"], undo.UNDOERS["test_broken"]


def test_rollback_command_restores_what_a_killed_run_left(
    fake: FakeKube, undo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drain_nodes(name="node-a1,node-b1", timeout=5)  # a run killed right after its drain
    assert fake.core.nodes["node-a1"].spec.unschedulable is True
    undo.reset()  # a fresh process: only the files on disk remain
    assert main(["rollback"]) == 0
    out = capsys.readouterr().out
    assert "undone: uncordon node node-a1" in out and "undone: uncordon node node-b1" in out
    assert not fake.core.nodes["node-a1"].spec.unschedulable
    assert not fake.core.nodes["node-b1"].spec.unschedulable
    assert undo.pending_steps(undo_dir) == []
    assert main(["rollback", str(undo_dir)]) == 0
    assert "nothing to roll back" in capsys.readouterr().out


def test_rollback_command_exit_codes(undo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rollback", str(tmp_path / "missing")]) == 2
    assert "missing: no such directory" in capsys.readouterr().err
    log = undo.start_run("run-3")
    log.record("no_such_kind", {}, "mystery step")
    assert main(["rollback", str(undo_dir)]) == 2  # a step this version cannot read: unusable input
    err = capsys.readouterr().err
    assert "kind: unknown undo step kind 'no_such_kind'" in err and err.count("\n") == 1
    assert len(undo.pending_steps(undo_dir)) == 1
    pidfile = tmp_path / "locust.pid.json"
    pidfile.write_text("{broken")
    log.record("stop_process", {"pidfile": str(pidfile)}, "stop a Locust run")
    assert main(["rollback", str(undo_dir)]) == 3  # a step that failed: stays pending, run it again
    err = capsys.readouterr().err
    assert "FAILED: stop a Locust run" in err
    assert len(undo.pending_steps(undo_dir)) == 2


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)), b"[]", b'{"kind": "uncordon_node", ', b'{"kind": "uncordon_node", "params": {}}', b"{}"],
    ids=["binary", "not-an-object", "truncated", "missing-param", "no-kind"],
)
def test_rollback_reports_an_unreadable_step_in_one_line_and_replays_the_others(
    fake: FakeKube, undo_dir: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    drain_nodes(name="node-a1", timeout=5)  # a run killed right after its drain...
    run_dir = undo.current().directory
    bad = run_dir / f"{'9' * 20}-bad.undo.json"  # ...next to a step no one can read, replayed first
    bad.write_bytes(content)
    drain_nodes(name="node-b1", timeout=5)
    undo.reset()
    assert main(["rollback", str(undo_dir)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert str(bad) in lines[0] and "unreadable undo step" in lines[0] and "2 other step(s) rolled back" in lines[0]
    assert "undone: uncordon node node-a1" in captured.out and "undone: uncordon node node-b1" in captured.out
    assert not fake.core.nodes["node-a1"].spec.unschedulable and not fake.core.nodes["node-b1"].spec.unschedulable
    assert [s.path for s in undo.pending_steps(undo_dir)] == [bad]  # left for a person to look at
