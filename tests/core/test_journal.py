"""Chaos Toolkit journal reader: the verdict comes from the journal, not `chaos run`'s exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aideon_resilience.core.evidence.journal import read_journal, summarize_journal
from aideon_resilience.core.evidence.timeline import Timeline, parse_event
from aideon_resilience.errors import InputFileError

T0 = "2026-11-27T10:00:00+00:00"
BASE = datetime(2026, 11, 27, 10, 0, tzinfo=UTC).timestamp()


def _probe(name: str, ok: bool = True, status: str = "succeeded", start: str = T0) -> dict[str, Any]:
    return {
        "activity": {"type": "probe", "name": name},
        "status": status,
        "output": {"ok": ok},
        "start": start,
        "end": start,
        "tolerance_met": ok,
    }


def _state(met: bool, *probes: dict[str, Any]) -> dict[str, Any]:
    return {"steady_state_met": met, "probes": list(probes)}


def _run(name: str, typ: str, status: str, start: str, end: str, exc: str | None = None) -> dict[str, Any]:
    run: dict[str, Any] = {"activity": {"type": typ, "name": name}, "status": status, "start": start, "end": end,
                           "output": None}  # fmt: skip
    if exc:
        run["exception"] = ["Traceback...\n", exc + "\n"]
    return run


def _journal(**over: Any) -> dict[str, Any]:
    j: dict[str, Any] = {
        "experiment": {"title": "Draining a node"},
        "start": T0,
        "end": "2026-11-27T10:02:00+00:00",
        "status": "completed",
        "deviated": False,
        "steady_states": {
            "before": _state(True, _probe("pdb-held")),
            "after": _state(True, _probe("pdb-held")),
            "during": [],
        },
        "run": [_run("drain-node", "action", "succeeded", "2026-11-27T10:00:10+00:00", "2026-11-27T10:00:40+00:00")],
        "rollbacks": [
            _run("uncordon", "action", "succeeded", "2026-11-27T10:01:50+00:00", "2026-11-27T10:01:51+00:00")
        ],
    }
    j.update(over)
    return j


def test_a_clean_run_held_and_has_timeline_events() -> None:
    s = summarize_journal(_journal(), name="node-drain")
    assert s.held and not s.deviated and s.status == "completed"
    assert s.experiment == "node-drain" and s.title == "Draining a node"
    chaos = [e.model_dump() for e in s.events if e.kind == "chaos"]
    assert chaos == [
        {"t": BASE + 10, "kind": "chaos", "experiment": "node-drain", "activity": "drain-node", "type": "action",
         "start": BASE + 10, "end": BASE + 40, "status": "succeeded"},
        {"t": BASE + 110, "kind": "chaos", "experiment": "node-drain", "activity": "uncordon", "type": "rollback",
         "start": BASE + 110, "end": BASE + 111, "status": "succeeded"},
    ]  # fmt: skip
    exp = s.events[-1].model_dump()
    assert exp == {"t": BASE, "kind": "experiment", "experiment": "node-drain", "title": "Draining a node",
                   "start": BASE, "end": BASE + 120, "status": "completed", "deviated": False,
                   "held": True, "reasons": []}  # fmt: skip
    json.dumps(s.model_dump())


def test_events_are_valid_timeline_events() -> None:
    run = [_run("drain-node", "action", "failed", T0, T0, "ActivityFailed: boom")]
    s = summarize_journal(_journal(run=run), name="node-drain")
    parsed = [parse_event(e.model_dump_json()) for e in s.events]
    timeline = Timeline.from_events(e for e in parsed if e is not None)
    assert len(parsed) == 3 and None not in parsed
    assert [a.activity for a in timeline.activities("node-drain", type_=None)] == ["drain-node", "uncordon"]
    exp = timeline.experiment("Draining a node")
    assert exp is not None and exp.experiment == "node-drain" and exp.status == "completed"


def test_method_probe_reporting_not_ok_means_not_held() -> None:
    probe_run = _run("proxy-ejected-backend", "probe", "succeeded", T0, T0)
    probe_run["output"] = {"probe": "proxy_ejections", "ejections": 0, "ok": False}
    s = summarize_journal(_journal(run=[probe_run]))
    assert s.unmet_probes == ["proxy-ejected-backend"] and not s.held


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    (tmp_path / "journals").mkdir()
    named = tmp_path / "journals" / "zone-outage.json"
    named.write_text(json.dumps(_journal()))
    assert read_journal(named).experiment == "zone-outage"
    plain = tmp_path / "journal.json"
    plain.write_text(json.dumps(_journal()))
    assert read_journal(plain).experiment == "Draining a node"


def test_completed_but_deviated_during_the_method_is_deviated() -> None:
    during = [_state(True, _probe("pdb-held")), _state(False, _probe("pdb-held", ok=False))]
    s = summarize_journal(_journal(steady_states={"before": _state(True), "after": _state(True), "during": during}))
    assert s.status == "completed" and s.deviated and not s.held
    assert [d.met for d in s.during] == [True, False]
    assert s.reasons() == ["steady-state hypothesis deviated"]


def test_steady_state_broken_before_the_method_does_not_hold() -> None:
    # chaos run exits 0 here: nothing ran, the journal says "completed"
    s = summarize_journal(_journal(steady_states={"before": _state(False, _probe("ready", ok=False)),
                                                  "after": None, "during": []}, run=[], rollbacks=[]))  # fmt: skip
    assert s.status == "completed" and s.before is not None and not s.before.met
    assert not s.held
    assert s.reasons() == ["steady state before the method not met: ready"]
    last = s.events[-1].model_dump()
    assert last["held"] is False and last["reasons"] == s.reasons()


def test_failed_activities_are_listed_with_their_error() -> None:
    run = [_run("drain-node", "action", "failed", T0, T0,
                "chaoslib.exceptions.ActivityFailed: drain of node node-a1 timed out after 120s")]  # fmt: skip
    before = _state(True, _probe("pdb-held"), _probe("client-slo", status="failed"))
    s = summarize_journal(_journal(run=run, steady_states={"before": before, "after": None, "during": []}))
    assert not s.held
    by_name = {f.name: f for f in s.failed_activities}
    assert by_name["drain-node"].phase == "method"
    error = "chaoslib.exceptions.ActivityFailed: drain of node node-a1 timed out after 120s"
    assert by_name["drain-node"].error == error
    assert by_name["client-slo"].phase == "before" and by_name["client-slo"].type == "probe"


def test_naive_timestamps_are_utc() -> None:
    s = summarize_journal(_journal(start="2026-11-27T10:00:00", end=None, duration=5.5))
    assert s.start == BASE and s.end == BASE + 5.5


def test_after_state_not_met_is_a_deviation_even_if_the_flag_is_missing() -> None:
    s = summarize_journal(_journal(steady_states={"before": _state(True), "after": _state(False), "during": []}))
    assert s.deviated


@pytest.mark.parametrize(
    ("journal", "message"),
    [
        ([], "journal: not a Chaos Toolkit journal"),
        ({"status": "completed"}, "journal: experiment: missing or not an object"),
        (_journal(status="running"), "journal: status: unknown status 'running'"),
        (_journal(run="x"), "journal: run: not a list"),
        (_journal(start="yesterday"), "journal: start: not an ISO 8601 time: 'yesterday'"),
        (_journal(start=None), "journal: start: missing"),
    ],
)
def test_malformed_journals_name_the_field(journal: Any, message: str) -> None:
    with pytest.raises(InputFileError) as info:
        summarize_journal(journal)
    assert str(info.value).startswith(message)


def test_truncated_or_missing_journal_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text('{"status": "completed", "experi')
    with pytest.raises(InputFileError, match=r"journal.json: not JSON .*truncated"):
        read_journal(path)
    with pytest.raises(InputFileError, match="no such journal file"):
        read_journal(tmp_path / "nope.json")


def test_reads_a_journal_written_by_chaos_run(tmp_path: Path) -> None:
    """A real `chaos run` whose steady state breaks only after the method exits 0; the reader says so."""
    flag = tmp_path / "broken"
    check = f"import os,sys; sys.exit(1 if os.path.exists({str(flag)!r}) else 0)"
    experiment = {
        "title": "reader check",
        "description": "a probe that breaks after the method",
        "steady-state-hypothesis": {"title": "flag absent", "probes": [
            {"type": "probe", "name": "flag-absent", "tolerance": 0,
             "provider": {"type": "process", "path": sys.executable, "arguments": ["-c", check]}}]},
        "method": [{"type": "action", "name": "break-it",
                    "provider": {"type": "process", "path": sys.executable,
                                 "arguments": ["-c", f"open({str(flag)!r}, 'w').close()"]}}],
        "rollbacks": [{"type": "action", "name": "heal-it",
                       "provider": {"type": "process", "path": sys.executable,
                                    "arguments": ["-c", f"import os; os.remove({str(flag)!r})"]}}],
    }  # fmt: skip
    exp_path = tmp_path / "exp.json"
    exp_path.write_text(json.dumps(experiment))
    journal = tmp_path / "journal.json"
    chaos = str(Path(sys.executable).with_name("chaos"))
    proc = subprocess.run(
        [chaos, "--log-file", str(tmp_path / "chaos.log"), "run", "--rollback-strategy", "always",
         "--journal-path", str(journal), str(exp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    s = read_journal(journal)
    assert s.deviated and not s.held
    assert s.after is not None and not s.after.met
    events = [e.model_dump() for e in s.events]
    assert [(e["activity"], e["type"], e["status"]) for e in events if e["kind"] == "chaos"] == [
        ("break-it", "action", "succeeded"),
        ("heal-it", "rollback", "succeeded"),
    ]
    assert all(isinstance(e["t"], float) and e["end"] >= e["start"] for e in events)
    assert not flag.exists()
    assert proc.returncode in (0, 1)  # whatever it is, the verdict above came from the journal
