"""Service level objectives of one environment, read from `manifests/environments/<env>/slo.yaml`.

The file is a mapping::

    environment: local
    warn_ratio: 0.8            # default margin for every SLO (see below)
    slos:
      - id: client-errors      # unique, lowercase letters, digits and dashes
        family: client         # client | hpa | pdb | anti_affinity | outlier | recovery | rollout | zone_outage | ...
        weight: 3              # > 0; share of the weighted score
        description: ...       # optional, shown in the reports
        warn_ratio: 0.8        # optional, overrides the file's default
        ...family fields...

`warn_ratio` turns a limit into a pass/warn band: a figure that must stay at or under a limit
passes when it is at most `warn_ratio * limit`, warns when it is above that but within the
limit, and fails above the limit. Yes/no conditions (never above the HPA maximum, never two
replicas on one node, ...) only pass or fail.

Workloads, PDBs and services are named `namespace/name`; shell-style wildcards are allowed
(`*/api-gateway`, `aideon-backend/*`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aideon_resilience.core.files import in_directory, load_model
from aideon_resilience.errors import InputFileError

SLO_FILE = "slo.yaml"
FAMILIES = (
    "client", "hpa", "pdb", "anti_affinity", "outlier", "recovery", "rollout", "zone_outage", "stateful",
    "experiments", "plan_replicas", "zone_capacity",
)
RunKind = Literal["gate", "rehearsal"]
RUN_KINDS: tuple[RunKind, ...] = ("gate", "rehearsal")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class _SloBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    weight: float = Field(default=1.0, gt=0)
    description: str = ""
    warn_ratio: float | None = Field(default=None, gt=0, le=1)
    # the kinds of run the SLO judges: a gate (real traffic) or a rehearsal at an environment's
    # shape (modelled load, no data plane); an SLO of the other kind is not evaluated
    runs: list[RunKind] = Field(default_factory=lambda: list[RunKind](["gate"]), min_length=1)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("must be lowercase letters, digits and dashes")
        return value


class ClientSlo(_SloBase):
    """Client-side figures from the Locust windows (the `Aggregated` rows)."""

    family: Literal["client"]
    max_error_ratio: float | None = Field(default=None, ge=0, le=1)
    max_chaos_window_error_ratio: float | None = Field(default=None, ge=0, le=1)
    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)
    min_window_requests: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _some_limit(self) -> ClientSlo:
        if all(
            v is None
            for v in (self.max_error_ratio, self.max_chaos_window_error_ratio, self.p95_ms, self.p99_ms)
        ):
            raise ValueError(
                "a client SLO needs at least one of max_error_ratio, max_chaos_window_error_ratio, "
                "p95_ms, p99_ms"
            )
        return self


class HpaSlo(_SloBase):
    """Scale-out within T of the surge, never above the maximum, back down after."""

    family: Literal["hpa"]
    workloads: list[str] = Field(min_length=1)
    surge_experiment: str = "load-surge"
    min_scale_up: int = Field(default=1, ge=0)
    scale_up_within_s: float = Field(gt=0)
    scale_down_to: int | None = Field(default=None, ge=0)
    scale_down_within_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _down_pair(self) -> HpaSlo:
        if (self.scale_down_to is None) != (self.scale_down_within_s is None):
            raise ValueError("scale_down_to and scale_down_within_s go together")
        return self


class PdbSlo(_SloBase):
    """Healthy pods never below the budget's minimum; drains finish within T."""

    family: Literal["pdb"]
    pdbs: list[str] = Field(default_factory=lambda: ["*/*"], min_length=1)
    max_breach_s: float = Field(default=0.0, ge=0)
    drain_activity: str = "*drain*"
    drain_within_s: float | None = Field(default=None, gt=0)


class AntiAffinitySlo(_SloBase):
    """Never two replicas of a required-spread workload on one node; zones spread at the end."""

    family: Literal["anti_affinity"]
    workloads: list[str] = Field(min_length=1)
    zone_spread: bool = True
    # judge the zone spread when each of these experiments ends (after the rescheduling they cause)
    # rather than at the end of the run, where an HPA's scale-down (not zone-aware) may have the
    # last word
    spread_after: list[str] = Field(default_factory=list)
    # no pod of these workloads stays Pending longer than this (unset: not checked)
    max_pending_s: float | None = Field(default=None, gt=0)


class OutlierSlo(_SloBase):
    """While a backend fails, the client error ratio is back under a limit within T and stays there
    until it is healed; the backend is ejected (at least `min_ejections` times, each ejection of it
    longer than the one before)."""

    family: Literal["outlier"]
    experiment: str = "gateway-outlier"
    failing_activity: str = "*fail*"
    healing_activity: str = "*heal*"
    max_error_ratio: float = Field(ge=0, le=1)
    within_s: float = Field(gt=0)
    # failures a window may have above the limit per return of an ejected backend in it: a backend
    # that still fails gets consecutive5xxErrors requests (and those in flight) before its next ejection
    readmission_errors: int = Field(default=0, ge=0)
    require_ejection: bool = True
    min_ejections: int = Field(default=1, ge=1)
    services: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    # whose error ratio: the clients' (Locust windows), or the attempts the services' hosts answered
    # at the proxy, retried ones included (the data plane's pool_traffic): what outlier detection
    # counts, and what a route's retries do not hide
    error_ratio_of: Literal["clients", "attempts"] = "clients"


class RecoverySlo(_SloBase):
    """Ready replicas back to the desired count within T of a pod kill."""

    family: Literal["recovery"]
    experiment: str = "pod-kill"
    kill_activity: str = "*kill*"
    workloads: list[str] = Field(min_length=1)
    within_s: float = Field(gt=0)


class RolloutSlo(_SloBase):
    """A rolling update under load: the client error ratio over the rollout stays under X, ready
    replicas never drop below what the Deployment's maxUnavailable allows, and the new ReplicaSet
    is fully available within T of the update."""

    family: Literal["rollout"]
    experiment: str = "rolling-update"
    rollout_activity: str = "*rollout*"
    workloads: list[str] = Field(min_length=1)
    max_error_ratio: float = Field(ge=0, le=1)
    min_requests: int = Field(default=50, ge=1, description="requests over the rollout that judge its error ratio")
    within_s: float = Field(gt=0)


class ZoneOutageSlo(_SloBase):
    """After a zone is lost, the ready replicas of every critical service are back to their minimum
    (the HPA's, else the replicas before the outage) on the surviving zones within T, and a
    service with required hostname anti-affinity never has two replicas on one node meanwhile."""

    family: Literal["zone_outage"]
    experiment: str = "zone-outage"
    outage_activity: str = "*zone*"
    workloads: list[str] = Field(min_length=1)
    within_s: float = Field(gt=0)


class StatefulSlo(_SloBase):
    """A StatefulSet pod and its node lost: the replacement comes back with the same name and the
    same volume claims, ready, within T of the loss, and a majority of the replicas stays ready
    throughout."""

    family: Literal["stateful"]
    experiment: str = "stateful-node-loss"
    loss_activity: str = "*lose*"
    workloads: list[str] = Field(min_length=1)
    within_s: float = Field(gt=0)


class ExperimentsSlo(_SloBase):
    """Every experiment of the suite held its own steady-state hypothesis, read from its journal:
    completed, hypothesis met before and after the method, no failed action, no unmet method probe.
    A pattern without wildcards names an experiment that must have run."""

    family: Literal["experiments"]
    experiments: list[str] = Field(default_factory=lambda: ["*"], min_length=1)


class PlanReplicasSlo(_SloBase):
    """Each HPA reaches, within T, the replicas the capacity plan needs for the modelled users of
    T seconds earlier (less the HPA's own tolerance), and never exceeds its maximum. A plan need
    above the HPA's maximum fails by name. Evidence: the rehearsal's `modelled_load` samples."""

    family: Literal["plan_replicas"]
    workloads: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    within_s: float = Field(gt=0)
    tolerance: float = Field(default=0.1, ge=0, lt=1, description="the HPA controller's tolerance")


class ZoneCapacitySlo(_SloBase):
    """After a zone outage, the surviving zones carry the replicas the plan needs at that moment
    (ready, less the HPA's tolerance) within T; the verdict names each workload that falls short
    and by how much."""

    family: Literal["zone_capacity"]
    experiment: str = "zone-outage"
    outage_activity: str = "*zone*"
    workloads: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    within_s: float = Field(gt=0)
    tolerance: float = Field(default=0.1, ge=0, lt=1)


Slo = Annotated[
    ClientSlo | HpaSlo | PdbSlo | AntiAffinitySlo | OutlierSlo | RecoverySlo | RolloutSlo | ZoneOutageSlo
    | StatefulSlo | ExperimentsSlo | PlanReplicasSlo | ZoneCapacitySlo,
    Field(discriminator="family"),
]


class SloFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: str
    warn_ratio: float = Field(default=0.8, gt=0, le=1)
    slos: list[Slo] = Field(min_length=1)

    @field_validator("slos")
    @classmethod
    def _unique_ids(cls, slos: list[_SloBase]) -> list[_SloBase]:
        seen: set[str] = set()
        for slo in slos:
            if slo.id in seen:
                raise ValueError(f"duplicate SLO id {slo.id!r}")
            seen.add(slo.id)
        return slos

    def for_run(self, kind: RunKind) -> SloFile:
        """The SLOs that judge a run of this kind (the file unchanged for a gate with every SLO
        applying); raises when none applies, so a run is never judged by nothing."""
        chosen = [slo for slo in self.slos if kind in slo.runs]
        if len(chosen) == len(self.slos):
            return self
        if not chosen:
            raise ValueError(f"no SLO applies to a {kind} run (set `runs` on the SLOs that do)")
        return self.model_copy(update={"slos": chosen})

    def warn_ratio_of(self, slo: _SloBase) -> float:
        return slo.warn_ratio if slo.warn_ratio is not None else self.warn_ratio


def _field_path(data: object, loc: tuple[int | str, ...]) -> str:
    """`slos[2].p95_ms` rather than `slos.2.client.p95_ms`: name SLOs by index and id."""
    parts: list[str] = []
    node: object = data
    i = 0
    while i < len(loc):
        key = loc[i]
        if isinstance(key, int):
            label = f"[{key}]"
            if isinstance(node, list) and key < len(node):
                node = node[key]
                if isinstance(node, dict) and isinstance(node.get("id"), str):
                    label = f"[{key}]({node['id']})"
            else:
                node = None
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
            # pydantic inserts the discriminator value after a list index of a union
            if i + 1 < len(loc) and isinstance(node, dict) and loc[i + 1] == node.get("family"):
                i += 1
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
        i += 1
    return ".".join(parts) or "(top level)"


def load_slos(path: Path) -> SloFile:
    """Load an SLO file (or the `slo.yaml` in a directory); bad input raises InputFileError."""
    return load_model(in_directory(path, SLO_FILE), SloFile, "a mapping with environment and slos",
                      missing="no SLO file", report=_slo_error)


def _slo_error(source: object, exc: ValidationError, data: dict[str, object]) -> InputFileError:
    """The first error, with SLOs named by index and id and a family that is missing or unknown said so."""
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    msg = str(err["msg"])
    if err["type"] == "union_tag_invalid":
        msg = f"unknown family (expected one of {', '.join(FAMILIES)})"
        loc = (*loc, "family") if loc and loc[-1] != "family" else loc
    elif err["type"] == "union_tag_not_found":
        msg = f"missing family (one of {', '.join(FAMILIES)})"
        loc = (*loc, "family")
    msg = msg.removeprefix("Value error, ")
    return InputFileError(source, msg, field=_field_path(data, loc))
