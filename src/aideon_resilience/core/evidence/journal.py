"""Reader of Chaos Toolkit journals: what happened, judged from the journal, not the exit code.

``chaos run`` exits 0 when the steady state fails before the method and when deviations
happen only during the method (continuous hypothesis), so the gate reads the journal:
status, deviation (including during-method steady states), steady states before and after,
failed activities, and timeline events with Unix-second timestamps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from aideon_resilience.core.evidence.timeline import ChaosActivity, ExperimentEvent
from aideon_resilience.core.files import read_text
from aideon_resilience.errors import InputFileError

STATUSES = ("completed", "failed", "aborted", "interrupted")


class ProbeResult(BaseModel):
    name: str
    status: str
    tolerance_met: bool | None = None
    output: Any = None


class SteadyState(BaseModel):
    met: bool
    probes: list[ProbeResult] = Field(default_factory=list)
    start: float | None = None


class FailedActivity(BaseModel):
    name: str
    type: str
    phase: Literal["before", "method", "during", "after", "rollback"]
    status: str
    error: str | None = None


class JournalSummary(BaseModel):
    experiment: str
    title: str
    status: str
    deviated: bool
    before: SteadyState | None = None
    after: SteadyState | None = None
    during: list[SteadyState] = Field(default_factory=list)
    failed_activities: list[FailedActivity] = Field(default_factory=list)
    unmet_probes: list[str] = Field(
        default_factory=list, description="method probes whose evidence says ok: false (e.g. no ejection seen)"
    )
    rollbacks_run: int = 0
    start: float
    end: float
    events: list[ChaosActivity | ExperimentEvent] = Field(default_factory=list)

    def reasons(self) -> list[str]:
        """Why the experiment did not hold, one short phrase each (empty when it held)."""
        out: list[str] = []
        if self.status != "completed":
            out.append(f"run {self.status}")
        for phase, state in (("before", self.before), ("after", self.after)):
            if state is not None and not state.met:
                unmet = [p.name for p in state.probes if p.tolerance_met is False] or ["hypothesis"]
                out.append(f"steady state {phase} the method not met: {', '.join(unmet)}")
        if self.deviated and not out:
            out.append("steady-state hypothesis deviated")
        out += [f"{a.type} {a.name} {a.status} ({a.phase})" for a in self.failed_activities]
        out += [f"method probe {name} not ok" for name in self.unmet_probes]
        return out

    @property
    def held(self) -> bool:
        """The platform held: the run completed, the hypothesis was met before, during and after."""
        return (
            self.status == "completed"
            and not self.deviated
            and (self.before is None or self.before.met)
            and (self.after is None or self.after.met)
            and not self.failed_activities
            and not self.unmet_probes
        )


def _ts(value: Any, source: str, field: str) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise InputFileError(source, f"not an ISO 8601 time: {value!r}", field) from None
    if when.tzinfo is None:  # Chaos Toolkit writes UTC
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _error(run: dict[str, Any]) -> str | None:
    exc = run.get("exception")
    if isinstance(exc, list) and exc:
        return str(exc[-1]).strip()
    if exc:
        return str(exc).strip()
    return None


def _name(run: dict[str, Any]) -> str:
    activity = run.get("activity") or {}
    return str(activity.get("name") or activity.get("ref") or "?")


def _steady(state: Any, source: str, field: str) -> SteadyState | None:
    if state is None:
        return None
    if not isinstance(state, dict):
        raise InputFileError(source, "not an object", field)
    probes = []
    for i, run in enumerate(state.get("probes") or []):
        if not isinstance(run, dict):
            raise InputFileError(source, "not an object", f"{field}.probes[{i}]")
        probes.append(
            ProbeResult(
                name=_name(run),
                status=str(run.get("status", "unknown")),
                tolerance_met=run.get("tolerance_met"),
                output=run.get("output"),
            )
        )
    first = (state.get("probes") or [{}])[0]
    start = _ts(first.get("start"), source, f"{field}.probes[0].start") if isinstance(first, dict) else None
    return SteadyState(met=bool(state.get("steady_state_met")), probes=probes, start=start)


def _steady_states(journal: dict[str, Any], source: str) -> tuple[SteadyState | None, SteadyState | None,
                                                                    list[SteadyState]]:
    """The hypothesis before and after the method, and its runs during it."""
    states = journal.get("steady_states") or {}
    if not isinstance(states, dict):
        raise InputFileError(source, "not an object", "steady_states")
    before = _steady(states.get("before"), source, "steady_states.before")
    after = _steady(states.get("after"), source, "steady_states.after")
    during = [
        s
        for i, raw in enumerate(states.get("during") or [])
        if (s := _steady(raw, source, f"steady_states.during[{i}]")) is not None
    ]
    return before, after, during


def _failed_probes(before: SteadyState | None, after: SteadyState | None) -> list[FailedActivity]:
    failed: list[FailedActivity] = []
    for phase, state in (("before", before), ("after", after)):
        if state is not None:
            for p in state.probes:
                if p.status != "succeeded":
                    failed.append(FailedActivity(name=p.name, type="probe", phase=phase, status=p.status))  # type: ignore[arg-type]
    return failed


@dataclass
class _Activities:
    """What the method and the rollbacks did: timeline events, failures, probes whose evidence says no."""

    events: list[ChaosActivity | ExperimentEvent] = field(default_factory=list)
    failed: list[FailedActivity] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)

    def add(self, run: dict[str, Any], where: str, phase: str, experiment: str, source: str) -> None:
        activity = run.get("activity") or {}
        kind = "rollback" if phase == "rollback" else str(activity.get("type") or "action")
        run_status = str(run.get("status", "unknown"))
        run_start = _ts(run.get("start"), source, f"{where}.start")
        if run_start is None:
            raise InputFileError(source, "missing", f"{where}.start")
        run_end = _ts(run.get("end"), source, f"{where}.end") or run_start
        self.events.append(ChaosActivity(
            t=run_start, experiment=experiment, activity=_name(run),
            type=kind if kind in ("action", "probe", "rollback") else "action",  # type: ignore[arg-type]
            start=run_start, end=run_end, status="succeeded" if run_status == "succeeded" else "failed",
        ))
        output = run.get("output")
        if kind == "probe" and isinstance(output, dict) and output.get("ok") is False:
            self.unmet.append(_name(run))
        if run_status != "succeeded":
            self.failed.append(FailedActivity(
                name=_name(run), type=str(activity.get("type") or "action"), phase=phase,  # type: ignore[arg-type]
                status=run_status, error=_error(run),
            ))


def _activities(journal: dict[str, Any], source: str, experiment: str) -> _Activities:
    out = _Activities()
    for key, phase in (("run", "method"), ("rollbacks", "rollback")):
        runs = journal.get(key) or []
        if not isinstance(runs, list):
            raise InputFileError(source, "not a list", key)
        for i, run in enumerate(runs):
            if not isinstance(run, dict):
                raise InputFileError(source, "not an object", f"{key}[{i}]")
            out.add(run, f"{key}[{i}]", phase, experiment, source)
    return out


def _span(journal: dict[str, Any], source: str, events: list[ChaosActivity | ExperimentEvent]) -> tuple[float, float]:
    """Start and end of the run; without an end, start + duration, else the last activity's end."""
    start = _ts(journal.get("start"), source, "start")
    if start is None:
        raise InputFileError(source, "missing", "start")
    end = _ts(journal.get("end"), source, "end")
    if end is None:
        duration = journal.get("duration")
        last = max((e.end for e in events), default=start)
        end = start + float(duration) if isinstance(duration, int | float) else last
    return start, end


def summarize_journal(journal: Any, source: str = "journal", name: str | None = None) -> JournalSummary:
    """Summarize a loaded journal; a malformed one names the source and field.

    `name` is the experiment's name in the timeline (the gate uses the experiment file's stem,
    e.g. ``node-drain``); it defaults to the experiment's title.
    """
    if not isinstance(journal, dict):
        raise InputFileError(source, "not a Chaos Toolkit journal (expected a JSON object)")
    experiment = journal.get("experiment")
    if not isinstance(experiment, dict):
        raise InputFileError(source, "missing or not an object", "experiment")
    title = str(experiment.get("title") or "untitled")
    exp_name = name or title
    status = journal.get("status")
    if status not in STATUSES:
        raise InputFileError(source, f"unknown status {status!r} (expected one of {', '.join(STATUSES)})", "status")
    before, after, during = _steady_states(journal, source)
    deviated = bool(journal.get("deviated")) or any(not s.met for s in during) or (after is not None and not after.met)
    failed = _failed_probes(before, after)
    activities = _activities(journal, source, exp_name)
    start, end = _span(journal, source, activities.events)
    summary = JournalSummary(
        experiment=exp_name, title=title, unmet_probes=activities.unmet, status=str(status), deviated=deviated,
        before=before, after=after, during=during, failed_activities=failed + activities.failed,
        rollbacks_run=len(journal.get("rollbacks") or []), start=start, end=end, events=activities.events,
    )
    summary.events.append(ExperimentEvent(
        t=start, experiment=exp_name, title=title, start=start, end=end, status=str(status), deviated=deviated,
        held=summary.held, reasons=summary.reasons(),
    ))
    return summary


def read_journal(path: Path, name: str | None = None) -> JournalSummary:
    """Read and summarize a journal file (written by ``chaos run --journal-path``).

    The experiment's name defaults to the file's stem (``journals/node-drain.json`` ->
    ``node-drain``), or to its title for the default ``journal.json``.
    """
    text = read_text(path, "no such journal file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not JSON (line {exc.lineno}): a truncated journal?") from None
    if name is None and path.stem != "journal":
        name = path.stem
    return summarize_journal(data, str(path), name)
