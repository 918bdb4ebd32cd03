"""The kinds of event a run's `timeline.jsonl` holds, one pydantic model each (`kind` tells
them apart); `timeline.py` reads them into a `Timeline`, `timeline_writer.py` writes them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    t: float


TimelineEvent = _Event  # the base of every event kind below


class WorkloadSample(_Event):
    kind: Literal["workload"] = "workload"
    namespace: str
    name: str
    workload_kind: str
    replicas: int
    ready: int
    hpa_min: int | None = None
    hpa_max: int | None = None
    hpa_current: int | None = None
    hpa_desired: int | None = None
    # the reason of the HPA's ScalingActive=False condition (it cannot read its metrics), else None
    hpa_inactive: str | None = None
    # optional: the pod template's hostname anti-affinity as the sampler saw it
    anti_affinity: Literal["required", "preferred", "none"] | None = None
    # optional, Deployments: pods of every ReplicaSet (status.replicas), those of the current pod
    # template (status.updatedReplicas), and how many of `replicas` a rollout may take out of
    # service (the strategy's maxUnavailable resolved against `replicas`, rounded down as the
    # Deployment controller does; all of them under `Recreate`)
    total_replicas: int | None = None
    updated: int | None = None
    max_unavailable: int | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


class PdbSample(_Event):
    kind: Literal["pdb"] = "pdb"
    namespace: str
    name: str
    current_healthy: int
    desired_healthy: int
    disruptions_allowed: int
    expected_pods: int

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


class PlacementSample(_Event):
    kind: Literal["placement"] = "placement"
    namespace: str
    workload: str
    node: str
    zone: str | None = None
    pods: int

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.workload}"


class PendingSample(_Event):
    kind: Literal["pending"] = "pending"
    namespace: str
    workload: str
    pods: int

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.workload}"


class StatefulPodSample(_Event):
    """One pod of a StatefulSet as the sampler saw it: its identity (name, and `uid` for the
    object), where it runs and whether it is ready, the volume claims it mounts and the volume
    each claim is bound to (`volumes`: claim -> PersistentVolume; a claim not bound, or not read,
    is absent). A pod that is gone has `phase` "Deleted"."""

    kind: Literal["stateful_pod"] = "stateful_pod"
    namespace: str
    workload: str
    pod: str
    uid: str
    node: str | None = None
    phase: str
    ready: bool
    claims: list[str] = Field(default_factory=list)
    volumes: dict[str, str] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.workload}"


class NodeSample(_Event):
    kind: Literal["node"] = "node"
    name: str
    zone: str | None = None
    ready: bool
    unschedulable: bool


class EjectionEvent(_Event):
    """Outlier detection took a backend out (`down`), let it back (`up`), or was refused the
    ejection by maxEjectionPercent (`refused`). `ejection` is how many times the backend has been
    ejected (this one included); `ejection_s` how long a `down` keeps it out at least; `ejected_s`
    how long it was out, on an `up`."""

    kind: Literal["ejection"] = "ejection"
    service: str
    backend: str
    state: Literal["down", "up", "refused"]
    ejection: int | None = None
    ejection_s: float | None = None
    ejected_s: float | None = None
    reason: str | None = None


class PoolTrafficSample(_Event):
    """What the local proxy answered for one pool (a service, or one subset of it: `api-gateway.v2`)
    over the `period_s` before `t`: every response, the 5xx among them (`errors`), and the 503s it
    gave with no host to send to (`no_host`, Envoy's "no healthy upstream"); the attempts the pool's
    hosts answered, retried ones included, and the 5xx among them (`attempts`, `attempt_errors`:
    what outlier detection counts); with the pool's hosts, how many of them were ejected and
    whether it was in panic at `t`."""

    kind: Literal["pool_traffic"] = "pool_traffic"
    service: str
    period_s: float
    responses: int
    errors: int
    no_host: int = 0
    attempts: int = 0
    attempt_errors: int = 0
    hosts: int = 0
    ejected: int = 0
    panic: bool = False


class EvictionRefused(_Event):
    kind: Literal["eviction_refused"] = "eviction_refused"
    namespace: str
    pod: str
    pdb: str | None = None
    node: str | None = None


class LoadWorkersEvent(_Event):
    """The Locust master's connected workers changed (a drop-out, or a worker back)."""

    kind: Literal["load_workers"] = "load_workers"
    workers: int
    previous: int
    started: int | None = None  # workers the run started


class ChaosActivity(_Event):
    kind: Literal["chaos"] = "chaos"
    experiment: str
    activity: str
    type: Literal["action", "probe", "rollback"]
    start: float
    end: float
    status: Literal["succeeded", "failed"]


class ExperimentEvent(_Event):
    kind: Literal["experiment"] = "experiment"
    experiment: str
    start: float
    end: float
    status: str
    deviated: bool
    title: str | None = None
    # from the journal's summary (absent in timelines written before they were recorded)
    held: bool | None = None
    reasons: list[str] = Field(default_factory=list)


class ModelledLoadSample(_Event):
    """Modelled users at an instant of a rehearsal (no real traffic) and, for that many users,
    the replicas the capacity plan says each workload needs (`name` -> replicas)."""

    kind: Literal["modelled_load"] = "modelled_load"
    users: int
    needed: dict[str, int] = Field(default_factory=dict)


class EvidenceGap(_Event):
    """A stretch of the run a sampler watch could not see (API server down or restarting): written
    when the watch resumes (`t`), from `start`. Evidence of that stream inside it is missing."""

    kind: Literal["evidence_gap"] = "evidence_gap"
    stream: str  # nodes, pods, deployments, statefulsets, hpas or pdbs
    start: float
    reason: str = ""


Event = Annotated[
    WorkloadSample
    | PdbSample
    | PlacementSample
    | PendingSample
    | NodeSample
    | StatefulPodSample
    | EjectionEvent
    | PoolTrafficSample
    | EvictionRefused
    | LoadWorkersEvent
    | ChaosActivity
    | ExperimentEvent
    | ModelledLoadSample
    | EvidenceGap,
    Field(discriminator="kind"),
]
KINDS = (
    "workload",
    "pdb",
    "placement",
    "pending",
    "node",
    "stateful_pod",
    "ejection",
    "pool_traffic",
    "eviction_refused",
    "load_workers",
    "chaos",
    "experiment",
    "modelled_load",
    "evidence_gap",
)
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_LIST_ADAPTER: TypeAdapter[list[Event]] = TypeAdapter(list[Event])
