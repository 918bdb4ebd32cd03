"""The evidence timeline of a run: what the cluster, the proxy and the chaos suite did, and when.

`timeline.jsonl` holds one JSON object per line, each with `t` (Unix seconds) and `kind`.
Required fields are checked strictly (a bad line names the file and line); extra fields are
ignored and lines of an unknown `kind` are skipped and counted (`Timeline.skipped`), so newer
samplers stay readable by older reports.
"""

from __future__ import annotations

import fnmatch
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from pydantic import ValidationError

from aideon_resilience.core.evidence.timeline_events import (
    EVENT_ADAPTER,
    EVENT_LIST_ADAPTER,
    KINDS,
    ChaosActivity,
    EjectionEvent,
    Event,
    EvictionRefused,
    EvidenceGap,
    ExperimentEvent,
    LoadWorkersEvent,
    ModelledLoadSample,
    NodeSample,
    PdbSample,
    PendingSample,
    PlacementSample,
    PoolTrafficSample,
    StatefulPodSample,
    TimelineEvent,
    WorkloadSample,
)
from aideon_resilience.errors import InputFileError

# the event kinds live in timeline_events.py; importers keep finding them here
__all__ = [
    "KINDS", "ChaosActivity", "EjectionEvent", "Event", "EvictionRefused", "EvidenceGap", "ExperimentEvent",
    "LoadWorkersEvent", "ModelledLoadSample", "NodeSample", "PdbSample", "PendingSample", "PlacementSample",
    "PoolTrafficSample", "StatefulPodSample", "Timeline", "TimelineEvent", "WorkloadSample", "load_timeline",
    "matches", "parse_event",
]


def matches(key: str, patterns: Iterable[str]) -> bool:
    """`namespace/name` against shell-style patterns; a pattern without `/` matches the name."""
    name = key.rsplit("/", 1)[-1]
    for pattern in patterns:
        target = key if "/" in pattern else name
        if fnmatch.fnmatchcase(target, pattern):
            return True
    return False


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=_Keyed)


def _by_key(samples: list[K]) -> dict[str, list[K]]:
    """Samples per key, each list in the samples' (time) order."""
    out: dict[str, list[K]] = defaultdict(list)
    for s in samples:
        out[s.key].append(s)
    return dict(out)


@dataclass
class Timeline:
    """Events of one run grouped by kind, each list sorted by `t`."""

    workloads: list[WorkloadSample] = field(default_factory=list)
    pdbs: list[PdbSample] = field(default_factory=list)
    placements: list[PlacementSample] = field(default_factory=list)
    pending: list[PendingSample] = field(default_factory=list)
    nodes: list[NodeSample] = field(default_factory=list)
    stateful_pods: list[StatefulPodSample] = field(default_factory=list)
    ejections: list[EjectionEvent] = field(default_factory=list)
    pool_traffic: list[PoolTrafficSample] = field(default_factory=list)
    refusals: list[EvictionRefused] = field(default_factory=list)
    load_workers: list[LoadWorkersEvent] = field(default_factory=list)
    chaos: list[ChaosActivity] = field(default_factory=list)
    experiments: list[ExperimentEvent] = field(default_factory=list)
    modelled: list[ModelledLoadSample] = field(default_factory=list)
    gaps: list[EvidenceGap] = field(default_factory=list)
    skipped: int = 0

    @classmethod
    def from_events(cls, events: Iterable[TimelineEvent], skipped: int = 0) -> Timeline:
        tl = cls(skipped=skipped)
        buckets: dict[type, list[TimelineEvent]] = {
            WorkloadSample: tl.workloads,  # type: ignore[dict-item]
            PdbSample: tl.pdbs,  # type: ignore[dict-item]
            PlacementSample: tl.placements,  # type: ignore[dict-item]
            PendingSample: tl.pending,  # type: ignore[dict-item]
            NodeSample: tl.nodes,  # type: ignore[dict-item]
            StatefulPodSample: tl.stateful_pods,  # type: ignore[dict-item]
            EjectionEvent: tl.ejections,  # type: ignore[dict-item]
            PoolTrafficSample: tl.pool_traffic,  # type: ignore[dict-item]
            EvictionRefused: tl.refusals,  # type: ignore[dict-item]
            LoadWorkersEvent: tl.load_workers,  # type: ignore[dict-item]
            ChaosActivity: tl.chaos,  # type: ignore[dict-item]
            ExperimentEvent: tl.experiments,  # type: ignore[dict-item]
            ModelledLoadSample: tl.modelled,  # type: ignore[dict-item]
            EvidenceGap: tl.gaps,  # type: ignore[dict-item]
        }
        for event in events:
            buckets[type(event)].append(event)
        for bucket in buckets.values():
            bucket.sort(key=lambda e: e.t)
        return tl

    # ---- extent -------------------------------------------------------------------------
    def span(self) -> tuple[float, float] | None:
        """First and last time seen in any event (chaos spans included)."""
        times: list[float] = []
        for bucket in (
            self.workloads,
            self.pdbs,
            self.placements,
            self.pending,
            self.nodes,
            self.stateful_pods,
            self.ejections,
            self.refusals,
            self.modelled,
        ):
            if bucket:
                times += [bucket[0].t, bucket[-1].t]
        for act in self.chaos:
            times += [act.start, act.end]
        for exp in self.experiments:
            times += [exp.start, exp.end]
        return (min(times), max(times)) if times else None

    # ---- series ---------------------------------------------------------------------------
    def workload_series(self) -> dict[str, list[WorkloadSample]]:
        """Samples per `namespace/name`, in time order."""
        return _by_key(self.workloads)

    def pdb_series(self) -> dict[str, list[PdbSample]]:
        return _by_key(self.pdbs)

    def placement_series(self) -> dict[str, list[PlacementSample]]:
        """Placement changes per workload `namespace/name`."""
        return _by_key(self.placements)

    def pending_series(self) -> dict[str, list[PendingSample]]:
        return _by_key(self.pending)

    def stateful_pod_series(self) -> dict[str, list[StatefulPodSample]]:
        """Samples of the pods of each StatefulSet `namespace/name`, in time order."""
        return _by_key(self.stateful_pods)

    def node_readiness_at(self, t: float) -> dict[str, bool]:
        """Whether each node seen by `t` was Ready then (its last sample up to `t`)."""
        last: dict[str, bool] = {}
        for n in self.nodes:
            if n.t > t:
                break
            last[n.name] = n.ready
        return last

    def node_zones(self) -> dict[str, str | None]:
        """Zone of every node seen (node samples first, then placements)."""
        zones: dict[str, str | None] = {}
        for p in self.placements:
            zones.setdefault(p.node, p.zone)
        for n in self.nodes:
            if n.zone is not None or n.name not in zones:
                zones[n.name] = n.zone
        return zones

    def pods_per_node(self) -> dict[str, list[tuple[float, int]]]:
        """Running pods of all sampled workloads on each node over time (step series)."""
        current: dict[tuple[str, str], int] = {}
        totals: dict[str, int] = defaultdict(int)
        out: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for p in self.placements:
            k = (p.key, p.node)
            totals[p.node] += p.pods - current.get(k, 0)
            current[k] = p.pods
            series = out[p.node]
            if series and series[-1][0] == p.t:
                series[-1] = (p.t, totals[p.node])
            else:
                series.append((p.t, totals[p.node]))
        return dict(out)

    def experiment(self, name: str) -> ExperimentEvent | None:
        """The first run of a chaos experiment by name (also matched against its title)."""
        for ev in self.experiments:
            if ev.experiment == name or ev.title == name:
                return ev
        return None

    def activities(
        self, experiment: str | None = None, pattern: str = "*", type_: str | None = "action"
    ) -> list[ChaosActivity]:
        """Chaos activities, optionally of one experiment, whose name matches a pattern."""
        return sorted(
            (
                a
                for a in self.chaos
                if (experiment is None or a.experiment == experiment)
                and (type_ is None or a.type == type_)
                and fnmatch.fnmatchcase(a.activity, pattern)
            ),
            key=lambda a: a.start,
        )


def parse_event(line: str | bytes) -> TimelineEvent | None:
    """One line to an event; None for an unknown kind. Raises ValueError on a bad line."""
    try:
        return EVENT_ADAPTER.validate_json(line)  # the fast path: pydantic-core parses and validates
    except ValidationError:
        pass  # find out why below, with a plain parse: unknown kind, or which field
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    kind = data.get("kind")
    if kind not in KINDS:
        if isinstance(kind, str) and isinstance(data.get("t"), int | float):
            return None
        raise ValueError("no kind" if kind is None else f"kind {kind!r} without a numeric t")
    return EVENT_ADAPTER.validate_python(data)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        # drop the discriminator tag pydantic puts first
        if loc and loc[0] in KINDS:
            loc = loc[1:]
        field = ".".join(loc) or "(record)"
        return f"{field}: {err['msg']}"
    if isinstance(exc, json.JSONDecodeError):
        return "not valid JSON"
    return str(exc)


def load_timeline(path: Path) -> Timeline:
    """Read a timeline file; a malformed line raises InputFileError naming the line and field."""
    if not path.is_file():
        raise InputFileError(path, "no such timeline file")
    raw = path.read_bytes()
    try:
        # fast path: the whole file validated as one JSON array by pydantic-core
        lines = [ln for ln in raw.splitlines() if ln.strip()]
        every = EVENT_LIST_ADAPTER.validate_json(b"[" + b",".join(lines) + b"]")
        return Timeline.from_events(every)
    except ValidationError:
        pass  # slow path below: skip unknown kinds, or name the first bad line
    events: list[TimelineEvent] = []
    skipped = 0
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                event = parse_event(line)
            except (ValueError, ValidationError) as exc:
                raise InputFileError(path, _describe(exc), field=f"line {lineno}") from None
            if event is None:
                skipped += 1
            else:
                events.append(event)
    return Timeline.from_events(events, skipped=skipped)
