from __future__ import annotations

import json
from pathlib import Path

import pytest

from aideon_resilience.core.evidence.timeline import ChaosActivity, WorkloadSample, load_timeline, matches
from aideon_resilience.errors import InputFileError
from tests.core.runfactory import T0, healthy_events, placement, timeline, workload


def _write(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "timeline.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_loads_every_kind_sorted_and_tolerates_extra_fields(tmp_path: Path) -> None:
    events = healthy_events()
    events[0]["extra_field"] = "ignored"
    lines = [json.dumps(e) for e in reversed(events)]
    lines.append(json.dumps({"kind": "future-kind", "t": T0, "x": 1}))
    tl = load_timeline(_write(tmp_path, lines))
    assert tl.skipped == 1
    assert len(tl.workloads) == sum(1 for e in events if e["kind"] == "workload")
    assert [w.t for w in tl.workloads] == sorted(w.t for w in tl.workloads)
    assert isinstance(tl.workloads[0], WorkloadSample) and tl.workloads[0].hpa_max == 6
    assert {e.experiment for e in tl.experiments} == {"pod-kill", "node-drain", "load-surge", "gateway-outlier"}
    assert all(isinstance(c, ChaosActivity) for c in tl.chaos)
    assert len(tl.refusals) == 1 and len(tl.ejections) == 2 and len(tl.nodes) == 8


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"kind": "workload", "t": 1, "namespace": "a", "name": "b"}', "line 2: workload_kind: Field required"),
        ('{"kind": "node", "t": 1, "name": "n", "ready": "maybe", "unschedulable": false}', "line 2: ready: "),
        ("not json", "line 2: not valid JSON"),
        ('{"t": 1}', "line 2: no kind"),
        ('{"kind": "pdb"}', "line 2: t: Field required"),
        ('{"kind": 5}', "line 2: kind 5 without a numeric t"),
        ("[1, 2]", "line 2: not a JSON object"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path: Path, line: str, expected: str) -> None:
    good = json.dumps(workload(0, 3, 3))
    path = _write(tmp_path, [good, line])
    with pytest.raises(InputFileError) as info:
        load_timeline(path)
    assert str(info.value).startswith(f"{path}: ")
    assert expected in str(info.value)


def test_series_helpers() -> None:
    tl = timeline(healthy_events())
    gw = tl.workload_series()["aideon-backend/api-gateway"]
    assert [s.ready for s in gw][:3] == [3, 2, 3]
    per_node = tl.pods_per_node()
    assert per_node["n1"] == [(T0, 1), (T0 + 140, 0)]
    assert per_node["n3"][-1] == (T0 + 400, 0)
    assert tl.node_zones()["n5"] == "zone-c"
    assert [a.activity for a in tl.activities("gateway-outlier")] == ["fail-backend", "heal-backend"]
    assert [a.activity for a in tl.activities(pattern="*drain*")] == ["drain-nodes"]
    assert tl.experiment("load-surge") is not None and tl.experiment("absent") is None
    span = tl.span()
    assert span is not None and span[0] == T0


def test_pods_per_node_sums_workloads() -> None:
    tl = timeline([placement(0, "n1", 1), placement(1, "n1", 2, name="other"), placement(2, "n1", 0)])
    assert tl.pods_per_node()["n1"] == [(T0, 1), (T0 + 1, 3), (T0 + 2, 2)]


def test_matches_patterns() -> None:
    assert matches("ns/api-gateway", ["*/api-gateway"])
    assert matches("ns/api-gateway", ["api-gateway"])
    assert not matches("ns/api-gateway", ["other/*"])


def test_journal_reader_events_are_timeline_events() -> None:
    """Contract with core.journal: the chaos/experiment events it derives load as timeline events."""
    from aideon_resilience.core.evidence.journal import summarize_journal
    from aideon_resilience.core.evidence.timeline import ExperimentEvent, parse_event

    journal = {
        "experiment": {"title": "Killing a share of the gateway's pods keeps it serving"},
        "status": "completed",
        "deviated": False,
        "start": "2026-11-27T10:00:00",
        "end": "2026-11-27T10:01:00",
        "steady_states": {},
        "run": [
            {"activity": {"type": "action", "name": "kill-pods"}, "status": "succeeded",
             "start": "2026-11-27T10:00:05", "end": "2026-11-27T10:00:06", "output": None},
        ],
        "rollbacks": [],
    }
    events = [parse_event(e.model_dump_json()) for e in summarize_journal(journal, name="pod-kill").events]
    tl = timeline([e.model_dump() for e in events if e is not None])
    assert isinstance(tl.experiment("pod-kill"), ExperimentEvent)
    assert [a.activity for a in tl.activities("pod-kill", "*kill*")] == ["kill-pods"]


def test_a_pool_traffic_line_is_a_sample_of_its_pool() -> None:
    from aideon_resilience.core.evidence.timeline import PoolTrafficSample, Timeline, parse_event

    line = json.dumps({"t": T0 + 5, "kind": "pool_traffic", "service": "api-gateway.v2", "period_s": 5.0,
                       "responses": 12, "errors": 7, "no_host": 4, "hosts": 1, "ejected": 1, "panic": False})
    event = parse_event(line)
    assert isinstance(event, PoolTrafficSample)
    got = (event.service, event.responses, event.errors, event.no_host, event.ejected)
    assert got == ("api-gateway.v2", 12, 7, 4, 1)
    assert Timeline.from_events([event]).pool_traffic == [event]
    with pytest.raises(ValueError, match="responses"):
        parse_event(line.replace('"responses": 12', '"responses": "many"'))
