"""Synthetic run data for the SLO, timeline and report tests (times are seconds after T0)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aideon_resilience.core.evaluate import RunData
from aideon_resilience.core.evaluate.slo import SloFile
from aideon_resilience.core.evidence.loadstats import WindowStat, write_windows
from aideon_resilience.core.evidence.timeline import Timeline, parse_event

T0 = 1_800_000_000.0
NS = "aideon-backend"
GW = "api-gateway"
ZONES = {"n1": "zone-a", "n2": "zone-a", "n3": "zone-b", "n4": "zone-b", "n5": "zone-c", "n6": "zone-c"}


def window(
    start: float,
    length: float = 5.0,
    users: int = 100,
    requests: int = 1000,
    failures: int = 1,
    p50: float | None = 20.0,
    p95: float | None = 80.0,
    p99: float | None = 150.0,
    endpoint: str = "Aggregated",
) -> WindowStat:
    return WindowStat(
        start=T0 + start,
        end=T0 + start + length,
        endpoint=endpoint,
        users=users,
        requests=requests,
        failures=failures,
        rps=requests / length,
        error_ratio=failures / requests if requests else 0.0,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
    )


def ev(kind: str, t: float, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "t": T0 + t, **fields}


def workload(
    t: float, replicas: int, ready: int, hpa: tuple[int, int, int] | None = (3, 6, 3), name: str = GW, ns: str = NS
) -> dict[str, Any]:
    hmin, hmax, desired = hpa if hpa else (None, None, None)
    return ev(
        "workload", t, namespace=ns, name=name, workload_kind="Deployment", replicas=replicas, ready=ready,
        hpa_min=hmin, hpa_max=hmax, hpa_current=replicas if hpa else None, hpa_desired=desired,
    )


def pdb(t: float, healthy: int, desired: int = 2, name: str = GW, ns: str = NS) -> dict[str, Any]:
    return ev(
        "pdb", t, namespace=ns, name=name, current_healthy=healthy, desired_healthy=desired,
        disruptions_allowed=max(0, healthy - desired), expected_pods=3,
    )


def placement(t: float, node: str, pods: int, name: str = GW, ns: str = NS) -> dict[str, Any]:
    return ev("placement", t, namespace=ns, workload=name, node=node, zone=ZONES.get(node), pods=pods)


def node(t: float, name: str, ready: bool = True, unschedulable: bool = False) -> dict[str, Any]:
    return ev("node", t, name=name, zone=ZONES.get(name), ready=ready, unschedulable=unschedulable)


def chaos(
    experiment: str, activity: str, start: float, end: float, type_: str = "action", status: str = "succeeded"
) -> dict[str, Any]:
    return ev(
        "chaos", end, experiment=experiment, activity=activity, type=type_, start=T0 + start, end=T0 + end,
        status=status,
    )


def experiment(
    name: str, start: float, end: float, status: str = "completed", deviated: bool = False
) -> dict[str, Any]:
    return ev("experiment", end, experiment=name, start=T0 + start, end=T0 + end, status=status, deviated=deviated)


def timeline(events: list[dict[str, Any]]) -> Timeline:
    parsed = [parse_event(json.dumps(e)) for e in events]
    return Timeline.from_events([p for p in parsed if p is not None])


def run_data(
    windows: list[WindowStat] | None, events: list[dict[str, Any]] | None, end: float = 600.0
) -> RunData:
    return RunData(
        windows=windows, timeline=None if events is None else timeline(events), t0=T0, t_end=T0 + end
    )


# ---- a healthy 600 s run in which every SLO family passes -----------------------------------

def healthy_windows(end: float = 600.0) -> list[WindowStat]:
    out = []
    t = 0.0
    while t < end:
        failures = 1
        if 315 <= t < 325:
            failures = 60  # the backend failing, before its ejection
        users = 100 if not 230 <= t < 300 else 200
        out.append(window(t, users=users, failures=failures))
        out.append(window(t, endpoint="GET /health", requests=100, failures=0))
        t += 5.0
    return out


def healthy_events() -> list[dict[str, Any]]:
    e: list[dict[str, Any]] = []
    e += [node(0, n) for n in ZONES]
    e += [placement(0, "n1", 1), placement(0, "n3", 1), placement(0, "n5", 1)]
    e += [workload(0, 3, 3), pdb(0, 3)]
    # pod kill
    e += [experiment("pod-kill", 60, 120), chaos("pod-kill", "kill-gateway-pod", 65, 66)]
    e += [workload(66, 3, 2), pdb(66, 2), placement(66, "n3", 0), placement(70, "n4", 1)]
    e += [workload(80, 3, 3), pdb(80, 3)]
    # drain of n1 (one refusal while the budget was spent)
    e += [experiment("node-drain", 130, 220), chaos("node-drain", "drain-nodes", 135, 175)]
    e += [node(135, "n1", unschedulable=True), placement(140, "n1", 0), pdb(140, 2), workload(140, 3, 2)]
    e += [ev("eviction_refused", 141, namespace=NS, pod="api-gateway-abc", pdb=GW, node="n1")]
    e += [placement(150, "n2", 1), pdb(155, 3), workload(155, 3, 3), node(176, "n1")]
    # surge
    e += [experiment("load-surge", 230, 300), chaos("load-surge", "surge-users", 232, 233)]
    e += [workload(245, 5, 3, hpa=(3, 6, 5)), workload(265, 5, 5, hpa=(3, 6, 5))]
    e += [placement(250, "n3", 1), placement(252, "n6", 1)]
    e += [workload(400, 3, 3, hpa=(3, 6, 3)), placement(400, "n3", 0), placement(400, "n6", 0)]
    # outlier
    e += [experiment("gateway-outlier", 310, 370), chaos("gateway-outlier", "fail-backend", 315, 316)]
    e += [chaos("gateway-outlier", "heal-backend", 350, 351)]
    e += [chaos("gateway-outlier", "restore-backend", 360, 361, type_="rollback")]
    e += [ev("ejection", 318, service="api-gateway", backend="10.0.0.5:8080", state="down")]
    e += [ev("ejection", 362, service="api-gateway", backend="10.0.0.5:8080", state="up")]
    return e


SLO_YAML = """\
environment: test
warn_ratio: 0.8
slos:
  - id: client-errors
    family: client
    weight: 3
    max_error_ratio: 0.02
    max_chaos_window_error_ratio: 0.1
  - id: client-latency
    family: client
    weight: 2
    p95_ms: 300
    p99_ms: 1000
  - id: hpa-gateway
    family: hpa
    weight: 2
    workloads: ["*/api-gateway"]
    scale_up_within_s: 120
    scale_down_to: 3
    scale_down_within_s: 300
  - id: pdb-held
    family: pdb
    weight: 2
    max_breach_s: 120
    drain_within_s: 120
  - id: anti-affinity-gateway
    family: anti_affinity
    weight: 2
    workloads: ["aideon-backend/api-gateway"]
  - id: outlier-gateway
    family: outlier
    weight: 2
    max_error_ratio: 0.01
    within_s: 60
  - id: recovery-gateway
    family: recovery
    weight: 1
    workloads: ["*/api-gateway"]
    within_s: 60
"""


def slo_file() -> SloFile:
    import yaml

    return SloFile.model_validate(yaml.safe_load(SLO_YAML))


def write_run_dir(
    path: Path,
    windows: list[WindowStat] | None = None,
    events: list[dict[str, Any]] | None = None,
    slo_yaml: str = SLO_YAML,
    run_id: str = "run-1",
    end: float = 600.0,
) -> Path:
    """A run directory with the given raw data (None leaves that data file out)."""
    path.mkdir(parents=True, exist_ok=True)
    meta = {"run_id": run_id, "env": "test", "context": "kwok-aideon", "started": T0, "ended": T0 + end,
            "git_revision": "abc1234", "tool_version": "0.1.0", "target_users": 1000}
    (path / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    (path / "slo.yaml").write_text(slo_yaml, encoding="utf-8")
    if windows is not None:
        write_windows(path / "locust-windows.jsonl", windows)
    if events is not None:
        with (path / "timeline.jsonl").open("w", encoding="utf-8") as fh:
            for e in events:
                fh.write(json.dumps(e) + "\n")
    return path


def result(slo_id: str, data: RunData, slo_yaml: str = SLO_YAML) -> Any:
    """Evaluate one SLO of the test SLO file against run data."""
    import yaml

    from aideon_resilience.core.evaluate import evaluate_one

    slos = SloFile.model_validate(yaml.safe_load(slo_yaml))
    index = [s.id for s in slos.slos].index(slo_id)
    return evaluate_one(slos, index, data)


def without(events: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    """Events minus those whose fields all equal `match`."""
    return [e for e in events if not all(e.get(k) == v for k, v in match.items())]
