"""KWOK stages of the local clusters: node loss KWOK cannot undo, pod readiness owned by the data plane.

Every local cluster (the local one and the rehearsal) gets KWOK's default stages of the pinned
version (copied by `build.sh` from the `sigs.k8s.io/kwok` module into the cache; a KWOK that
takes its stages as API objects has no defaults), edited in two ways, and made as Stage objects
in the order `stage_objects.py` explains.

Node loss (`nodes.py`). A lost node keeps KWOK's annotation and is marked `aideon.io/node-loss`.
KWOK's two node stages would undo the loss: `node-initialize` turns any node that is not Ready back
to Ready, and `node-heartbeat-with-lease` rewrites Ready=True with a delay. That delayed job is
already queued with the node as it was before the loss, and KWOK only cancels it when another stage
matches a newer version of the node (KWOK v0.8.0, `NodeController.preprocess` and `addStageJob`),
so excluding lost nodes from both stages is not enough. So:

- both node stages skip a node that carries the loss annotation;
- `node-loss` matches exactly those nodes and does one thing, visible to `nodes.py`: it copies the
  loss mode into `aideon.io/node-loss-seen`. Playing it replaces the queued heartbeat, and the
  copy tells `nodes.py` that KWOK has seen the loss (an unreachable node's Lease is taken over only
  after that: KWOK ignores the events of a node whose Lease it does not hold);
- the heartbeat comes every 20 to 25 s instead of KWOK's 600 to 610 s. The node-lifecycle controller
  judges liveness by the Lease, so nothing else changes, but every node-loss test now outlasts a
  heartbeat and would fail if a lost node came back Ready by itself.

Pod readiness (the local cluster only). KWOK's default `pod-ready` stage moves a scheduled pod to
Running with Ready=True at once. With the local data plane that is a lie for a few seconds: the
pod's stand-in process has not started yet, and the runtime (`dataplane/runtime.py`) turns the pod
back to not ready a few hundred milliseconds later, until the process answers `/ready`. The sampler
sees that flicker as a recovery.

So a cluster with a data plane gets `pod-ready` split in two:

- `pod-ready` keeps KWOK's behaviour for every pod the data plane does not run (jobs, load
  generators, test pods);
- `pod-running-not-ready` moves a platform service's pod (labelled `app.kubernetes.io/part-of:
  aideon` and named by a profile) to Running with Ready=False and ContainersReady=False; the
  runtime sets Ready=True when the process answers its readiness probe, as a kubelet does.

A cluster without a data plane (the rehearsal) keeps KWOK's pod stages.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import yaml

from aideon_resilience.adapters.localcluster.nodes import LOSS_ANNOTATION, LOSS_SEEN_ANNOTATION
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
HEARTBEAT = "node-heartbeat-with-lease"
NODE_STAGES = ("node-initialize", HEARTBEAT)
NODE_LOSS_STAGE = "node-loss"
# milliseconds: KWOK plays the heartbeat between the duration and the jitter's end
HEARTBEAT_DELAY = {"durationMilliseconds": 20_000, "jitterDurationMilliseconds": 25_000}
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


def _loss_key() -> str:
    return f'.metadata.annotations["{LOSS_ANNOTATION}"]'


def node_loss_stage() -> dict[str, Any]:
    """The stage that holds a lost node: it copies the loss mode into the "seen" annotation (module docstring)."""
    mode = f'{{{{ index .metadata.annotations "{LOSS_ANNOTATION}" | Quote }}}}'
    template = f"annotations:\n  {LOSS_SEEN_ANNOTATION}: {mode}\n"
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": NODE_LOSS_STAGE},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": "Node"},
            "selector": {"matchExpressions": [{"key": _loss_key(), "operator": "Exists"}]},
            "next": {"patches": [{"type": "merge", "root": "metadata", "template": template}]},
        },
    }


def _hold_lost_nodes(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_name = {s["metadata"]["name"]: s for s in stages}
    for name in NODE_STAGES:
        by_name[name]["spec"]["selector"]["matchExpressions"].append({"key": _loss_key(), "operator": "DoesNotExist"})
    by_name[HEARTBEAT]["spec"]["delay"] = dict(HEARTBEAT_DELAY)
    return [*stages, node_loss_stage()]


def cluster_stages(stage_dir: Path, runtime_readiness: bool) -> list[dict[str, Any]]:
    """KWOK's default stages with node loss held, and pod-ready split when a data plane runs the pods."""
    stages = _hold_lost_nodes(_load(stage_dir))
    return runtime_readiness_stages(stages) if runtime_readiness else stages


def runtime_readiness_stages(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stages with pod-ready split for the pods the data plane runs (module docstring)."""
    ready = next(s for s in stages if s["metadata"]["name"] == "pod-ready")
    runtime = copy.deepcopy(ready)
    key = runtime_owned_pod_key()
    ready["spec"]["selector"]["matchExpressions"].append({"key": key, "operator": "NotIn", "values": ["true"]})
    runtime["metadata"]["name"] = RUNTIME_STAGE
    runtime["spec"]["selector"]["matchExpressions"].append({"key": key, "operator": "In", "values": ["true"]})
    runtime["spec"]["next"]["statusTemplate"] = _not_ready_template(runtime["spec"]["next"]["statusTemplate"])
    return [*stages, runtime]
