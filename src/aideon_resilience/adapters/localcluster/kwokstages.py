"""KWOK stages of a local cluster whose data plane owns the readiness of the platform's pods.

KWOK's default `pod-ready` stage moves a scheduled pod to Running with Ready=True at once. With the
local data plane that is a lie for a few seconds: the pod's stand-in process has not started yet,
and the runtime (`dataplane/runtime.py`) turns the pod back to not ready a few hundred milliseconds
later, until the process answers `/ready`. The sampler sees that flicker as a recovery.

So a cluster with a data plane gets KWOK's default stages of the pinned version (copied by
`build.sh` from the `sigs.k8s.io/kwok` module into the cache; kwokctl takes either its built-in
defaults or the stages it is given, never both) with `pod-ready` split in two:

- `pod-ready` keeps KWOK's behaviour for every pod the data plane does not run (jobs, load
  generators, test pods);
- `pod-running-not-ready` moves a platform service's pod (labelled `app.kubernetes.io/part-of:
  aideon` and named by a profile) to Running with Ready=False and ContainersReady=False; the
  runtime sets Ready=True when the process answers its readiness probe, as a kubelet does.

A cluster without a data plane (the rehearsal) keeps kwokctl's defaults.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import yaml

from aideon_resilience.core.profiles import PROFILES
from aideon_resilience.errors import ClusterError

DEFAULT_STAGE_FILES = (
    "node-initialize.yaml",
    "node-heartbeat-with-lease.yaml",
    "pod-ready.yaml",
    "pod-complete.yaml",
    "pod-delete.yaml",
)
PART_OF = "aideon"
RUNTIME_STAGE = "pod-running-not-ready"
# "status: True" of the Ready and ContainersReady conditions, and a container status's "ready: true"
_READY_CONDITION = re.compile(r'status: "True"(\s+)type: (Ready|ContainersReady)\b')
_CONTAINER_READY = "ready: true"


def runtime_owned_pod_key() -> str:
    """A jq expression that is `true` exactly for the pods the data plane runs a process for."""
    services = json.dumps(sorted(PROFILES))
    return (
        '(.metadata.labels // {}) as $l '
        f'| $l["app.kubernetes.io/part-of"] == "{PART_OF}" '
        f'and ({services} | index($l["app.kubernetes.io/name"] // "") != null)'
    )


def _load(stage_dir: Path) -> list[dict[str, Any]]:
    missing = [f for f in DEFAULT_STAGE_FILES if not (stage_dir / f).is_file()]
    if missing:
        raise ClusterError(f"KWOK's default stages are missing from {stage_dir} ({missing[0]}): run `make binaries`")
    return [yaml.safe_load((stage_dir / f).read_text(encoding="utf-8")) for f in DEFAULT_STAGE_FILES]


def _not_ready_template(template: str) -> str:
    out, conditions = _READY_CONDITION.subn(r'status: "False"\1type: \2', template)
    containers = out.count(_CONTAINER_READY)
    out = out.replace(_CONTAINER_READY, "ready: false", 1)  # the first is .spec.containers' status
    if conditions != 2 or containers < 1:
        raise ClusterError(
            "KWOK's pod-ready stage does not have the shape kwokstages.py expects "
            f"({conditions} Ready conditions, {containers} container ready flags): update kwokstages.py"
        )
    return out


def runtime_readiness_stages(stage_dir: Path) -> list[dict[str, Any]]:
    """KWOK's default stages with pod-ready split for the pods the data plane runs (module docstring)."""
    stages = _load(stage_dir)
    ready = next(s for s in stages if s["metadata"]["name"] == "pod-ready")
    runtime = copy.deepcopy(ready)
    key = runtime_owned_pod_key()
    ready["spec"]["selector"]["matchExpressions"].append({"key": key, "operator": "NotIn", "values": ["true"]})
    runtime["metadata"]["name"] = RUNTIME_STAGE
    runtime["spec"]["selector"]["matchExpressions"].append({"key": key, "operator": "In", "values": ["true"]})
    runtime["spec"]["next"]["statusTemplate"] = _not_ready_template(runtime["spec"]["next"]["statusTemplate"])
    return [*stages, runtime]
