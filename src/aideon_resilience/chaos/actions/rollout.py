"""A rolling update of a Deployment, as ``kubectl rollout restart`` starts one and ``kubectl
rollout status`` waits for it; undone as ``kubectl rollout undo`` would while it is incomplete.

The update stamps the pod template's ``kubectl.kubernetes.io/restartedAt`` annotation (the
configuration change kubectl makes), so the Deployment controller replaces every pod under the
Deployment's own strategy. The undo step, written before the change, puts the previous stamp
back: a rollout that completes needs no undo (the step is marked done); one that does not
complete in time, or is interrupted, is rolled back to the previous template.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from chaoslib.exceptions import ActivityFailed

from aideon_resilience.chaos import guard, k8s, node_targets, signals, undo

__all__ = ["rollout_restart", "undo_rollout"]

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
POLL_S = 0.5


def _set_stamp(apps: Any, namespace: str, name: str, stamp: str | None) -> None:
    """Set (or, with None, remove) the template's restart stamp; a merge patch leaves the rest alone."""
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    apps.patch_namespaced_deployment(name, namespace, body)


@undo.register("rollout_undo", "namespace", "name")
def _undo_rollout(params: dict[str, Any], data: dict[str, Any]) -> None:
    api = node_targets.clients_for_step(data)
    try:
        _set_stamp(api.apps, str(params["namespace"]), str(params["name"]), params.get("previous"))
    except Exception as exc:
        if k8s.api_status(exc) == 404:  # the Deployment is gone: nothing to roll back
            return
        raise


def rollout_state(dep: Any) -> dict[str, Any]:
    """Where a Deployment's rollout stands, and whether it is complete as `kubectl rollout status`
    judges it: the controller has seen the change, every replica is updated and available, and no
    pod of an old ReplicaSet is left."""
    st = dep.status
    want = int(dep.spec.replicas or 0)
    updated, total = int(st.updated_replicas or 0), int(st.replicas or 0)
    available = int(st.available_replicas or 0)
    seen = int(st.observed_generation or 0) >= int(dep.metadata.generation or 0)
    return {
        "replicas": want, "updated": updated, "total": total, "available": available,
        "complete": seen and updated == want and total == updated and available == updated,
    }


def rollout_restart(
    namespace: str,
    name: str,
    timeout: float = 120,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start a rolling update of Deployment `name` in `namespace` and wait up to `timeout`
    seconds for it to complete.

    The namespace must have opted in to chaos. Fails (and is rolled back by the undo log) when
    the rollout is not complete in time.
    """
    guard.require_target("rollout_restart", namespace=namespace)
    guard.require_target("rollout_restart", name=name)
    timeout_s = node_targets.parse_number(timeout, "timeout")
    cleared = guard.authorize("rollout_restart", secrets, [namespace])
    context, api = cleared.context, cleared.api
    dep = k8s.read_workload(api.apps, "Deployment", namespace, name)
    previous = (dep.spec.template.metadata.annotations or {}).get(RESTARTED_AT)
    step = undo.current().record(
        "rollout_undo", {"namespace": namespace, "name": name, "previous": previous},
        f"roll {namespace}/{name} back to its previous template", **node_targets.context_extra(context),
    )
    started = time.time()
    stamp = dt.datetime.fromtimestamp(started, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        _set_stamp(api.apps, namespace, name, stamp)
        state = _wait_complete(api, namespace, name, started + timeout_s)
    except signals.INTERRUPTS:
        _undo_rollout(step.params, step.data)
        undo.mark_done(step)
        raise
    took = round(time.time() - started, 3)
    if not state["complete"]:
        raise ActivityFailed(
            f"the rollout of {namespace}/{name} was not complete after {timeout_s:g} s: {state['updated']} of "
            f"{state['replicas']} replicas updated, {state['available']} available, {state['total']} pods; "
            "the undo log rolls it back"
        )
    undo.mark_done(step)  # complete: nothing left to undo
    return {
        "action": "rollout_restart", "context": context, "namespace": namespace, "name": name,
        "restarted_at": stamp, "duration_s": took, **state,
    }


def _wait_complete(api: k8s.KubeClients, namespace: str, name: str, deadline: float) -> dict[str, Any]:
    time.sleep(POLL_S)  # the controller's first pass: until then the old status reads "complete"
    while True:
        state = rollout_state(api.apps.read_namespaced_deployment(name, namespace))
        if state["complete"] or time.time() >= deadline:
            return state
        time.sleep(POLL_S)


def undo_rollout(namespace: str | None = None, name: str | None = None) -> dict[str, Any]:
    """Roll back the rollouts this run started and did not complete (all of them, or the one of
    `namespace`/`name`): the experiment's rollback."""
    undone: list[str] = []
    for step in undo.current().pending("rollout_undo"):
        p = step.params
        if (namespace and p.get("namespace") != namespace) or (name and p.get("name") != name):
            continue
        _undo_rollout(p, step.data)
        undo.mark_done(step)
        undone.append(f"{p.get('namespace')}/{p.get('name')}")
    return {"action": "undo_rollout", "at": time.time(), "rolled_back": undone}
