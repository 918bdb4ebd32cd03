"""A canary of a Deployment, as a canary controller such as Flagger runs one, and its share of the route.

`start_canary` brings up the canary Deployment ``<deployment>-<subset>``: an existing one is scaled;
otherwise one is built from the live stable Deployment, as Flagger builds its workloads from their
target (the same spec, the selector and pod template labelled ``<subset_label>: <subset>``, so the
DestinationRule's subset of that name selects its pods and the stable's controller, HPA and budget
do not). `route_to_canary` sets the weights of the subsets in the first http route without
``match`` of an Istio VirtualService. `end_canary` undoes both: the route first, then the canary
scaled back or deleted.

Every undo step is written before its change and holds all it needs (namespace, names, the
previous replicas or route), so `aideon-resilience rollback` replays it in another process.
"""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from chaoslib.exceptions import ActivityFailed

from aideon_resilience.adapters.dataplane.traffic_split import default_route_index
from aideon_resilience.chaos import guard, k8s, node_targets, signals, undo
from aideon_resilience.core.conditions import is_ready
from aideon_resilience.errors import SafetyRefusal

__all__ = ["end_canary", "route_back", "route_to_canary", "start_canary"]

MADE_BY = "aideon.io/made-by"
MADE_BY_VALUE = "chaos-canary"
MAX_REPLICAS = 10
POLL_S = 0.5
ISTIO_GROUP, ISTIO_VERSION, VIRTUAL_SERVICES = "networking.istio.io", "v1", "virtualservices"

DELETE_KIND = "canary_delete"
SCALE_KIND = "canary_scale"
ROUTE_KIND = "canary_route"


def _custom_objects(api: k8s.KubeClients) -> Any:
    """The CustomObjectsApi on the same API client as `api` (a seam tests replace with a fake)."""
    from kubernetes import client  # Kubernetes client: only when an activity runs

    return client.CustomObjectsApi(api.apps.api_client)


def _plain(obj: Any) -> dict[str, Any]:
    """A client model as the API's JSON (camelCase keys, no unset fields)."""
    if isinstance(obj, dict):
        return copy.deepcopy(obj)
    from kubernetes import client  # Kubernetes client: only when an activity runs

    plain: dict[str, Any] = client.ApiClient().sanitize_for_serialization(obj)
    return plain


def _refused_without_change(exc: BaseException) -> bool:
    """The API answered with a 4xx: the change was refused, nothing was changed."""
    status = k8s.api_status(exc)
    return status is not None and 400 <= status < 500


# --- the canary Deployment -------------------------------------------------------------------


@undo.register(DELETE_KIND, "namespace", "name")
def _undo_delete(params: dict[str, Any], data: dict[str, Any]) -> None:
    """Delete the canary this action made; a Deployment without its annotation is not ours and stays."""
    apps = node_targets.clients_for_step(data).apps
    namespace, name = str(params["namespace"]), str(params["name"])
    try:
        dep = apps.read_namespaced_deployment(name, namespace)
        if ((dep.metadata.annotations or {}) if dep.metadata else {}).get(MADE_BY) != MADE_BY_VALUE:
            return
        apps.delete_namespaced_deployment(name, namespace, propagation_policy="Background")
    except Exception as exc:
        if k8s.api_status(exc) == 404:  # already gone
            return
        raise


@undo.register(SCALE_KIND, "namespace", "name", "replicas")
def _undo_scale(params: dict[str, Any], data: dict[str, Any]) -> None:
    apps = node_targets.clients_for_step(data).apps
    try:
        _scale(apps, str(params["namespace"]), str(params["name"]), int(params["replicas"]))
    except Exception as exc:
        if k8s.api_status(exc) == 404:  # the canary is gone: nothing to scale back
            return
        raise


def _scale(apps: Any, namespace: str, name: str, replicas: int) -> None:
    apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": replicas}})


def _replicas(value: Any) -> int:
    number = node_targets.parse_number(value, "replicas")
    if number != int(number) or number < 1:
        raise ActivityFailed(f"replicas: must be a whole number of at least 1, got {value!r}")
    if number > MAX_REPLICAS:
        raise SafetyRefusal(f"start_canary: refusing {int(number)} canary replicas: at most {MAX_REPLICAS}")
    return int(number)


def canary_body(stable: Any, name: str, subset: str, subset_label: str, replicas: int) -> dict[str, Any]:
    """The canary Deployment built from the live stable one: its spec with `replicas`, the selector's
    matchLabels and the pod template's labels set to `subset_label: subset`; fresh metadata (name,
    namespace, labels and the made-by annotation), no status."""
    live = _plain(stable)
    meta, spec = live.get("metadata") or {}, copy.deepcopy(live.get("spec") or {})
    where = f"Deployment {meta.get('namespace')}/{meta.get('name')}"
    selector = spec.get("selector") or {}
    match_labels = dict(selector.get("matchLabels") or {})
    if subset_label not in match_labels:
        raise ActivityFailed(
            f"{where}: spec.selector.matchLabels has no {subset_label!r}: its controller, HPA and budget "
            "would count the canary's pods as its own"
        )
    if match_labels[subset_label] == subset:
        raise ActivityFailed(f"{where}: spec.selector.matchLabels.{subset_label} is already {subset!r}")
    match_labels[subset_label] = subset
    selector["matchLabels"] = match_labels
    spec["selector"] = selector
    template = spec.setdefault("template", {})
    template_meta = template.setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), subset_label: subset}
    spec["replicas"] = replicas
    labels = dict(meta.get("labels") or {})
    if subset_label in labels:
        labels[subset_label] = subset
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": meta.get("namespace"),
            "labels": labels,
            "annotations": {MADE_BY: MADE_BY_VALUE},
        },
        "spec": spec,
    }


def _selector(dep: Any) -> str:
    labels = (dep.spec.selector.match_labels or {}) if dep.spec and dep.spec.selector else {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _pod_ready(pod: Any) -> bool:
    return pod.metadata.deletion_timestamp is None and is_ready(pod)


def _ready_pods(core: Any, namespace: str, selector: str) -> list[str]:
    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    return sorted(p.metadata.name for p in pods if _pod_ready(p))


def _ready_count(dep: Any) -> int:
    st = dep.status
    if st is None or int(st.observed_generation or 0) < int(dep.metadata.generation or 0):
        return 0  # the controller has not seen the change yet: its counts are the old ones
    return min(int(st.ready_replicas or 0), int(st.available_replicas or 0))


def _wait_ready(apps: Any, namespace: str, name: str, replicas: int, deadline: float) -> tuple[Any, int]:
    while True:
        dep = apps.read_namespaced_deployment(name, namespace)
        ready = _ready_count(dep)
        left = deadline - time.time()
        if ready >= replicas or left <= 0:
            return dep, ready
        time.sleep(min(POLL_S, left))


def _why_not_ready(core: Any, dep: Any, namespace: str) -> str:
    """What keeps the canary's pods from being ready, as far as the API tells (a few pods at most)."""
    notes = [
        f"{c.type}: {c.message}"
        for c in (getattr(dep.status, "conditions", None) or [])
        if c.type == "ReplicaFailure" and c.status == "True"
    ]
    pods = [
        p
        for p in core.list_namespaced_pod(namespace, label_selector=_selector(dep)).items
        if p.metadata.deletion_timestamp is None and not _pod_ready(p)
    ]
    for p in sorted(pods, key=lambda p: p.metadata.name)[:3]:
        phase = getattr(p.status, "phase", None) or "Unknown"
        detail = next(
            (
                c.message or c.reason
                for c in (getattr(p.status, "conditions", None) or [])
                if c.status == "False" and (c.message or c.reason)
            ),
            None,
        )
        notes.append(f"pod {p.metadata.name} {phase}" + (f": {detail}" if detail else ""))
    if len(pods) > 3:
        notes.append(f"{len(pods) - 3} more pod(s) not ready")
    if not pods and not notes:
        notes.append("no pod of it is waiting to be ready")
    return "; ".join(notes)


def start_canary(
    namespace: str,
    deployment: str,
    subset: str = "v2",
    subset_label: str = "version",
    replicas: int = 1,
    timeout: float = 120,
    canary: str | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Bring up `replicas` ready pods of the canary of Deployment `deployment` in `namespace` and wait
    up to `timeout` seconds for them.

    The canary is the Deployment `canary` (default ``<deployment>-<subset>``): scaled to `replicas`
    when it exists, else created from the live `deployment` with its selector and pod template
    labelled `subset_label`: `subset` (at most 10 replicas). The namespace must have opted in to
    chaos. Fails, leaving the undo to `end_canary` and the rollback, when the pods are not ready in
    time.
    """
    guard.require_target("start_canary", namespace=namespace)
    guard.require_target("start_canary", deployment=deployment)
    guard.require_target("start_canary", subset=subset)
    guard.require_target("start_canary", subset_label=subset_label)
    n = _replicas(replicas)
    timeout_s = node_targets.parse_number(timeout, "timeout")
    name = str(canary or f"{deployment}-{subset}")
    if name == deployment:
        raise ActivityFailed(f"canary: {name!r} is the stable Deployment itself")
    cleared = guard.authorize("start_canary", secrets, [namespace])
    context, api = cleared.context, cleared.api
    log, extra = undo.current(), node_targets.context_extra(context)
    try:
        existing = api.apps.read_namespaced_deployment(name, namespace)
    except Exception as exc:
        if k8s.api_status(exc) != 404:
            raise
        existing = None
    started = time.time()
    previous: int | None = None
    body: dict[str, Any] = {}
    if existing is not None:
        previous = int(existing.spec.replicas if existing.spec.replicas is not None else 1)
        step = log.record(
            SCALE_KIND,
            {"namespace": namespace, "name": name, "replicas": previous},
            f"scale canary {namespace}/{name} back to {previous}",
            **extra,
        )
    else:
        stable = k8s.read_workload(api.apps, "Deployment", namespace, deployment)
        body = canary_body(stable, name, subset, subset_label, n)
        step = log.record(
            DELETE_KIND, {"namespace": namespace, "name": name}, f"delete canary {namespace}/{name}", **extra
        )
    try:
        try:
            if existing is not None:
                _scale(api.apps, namespace, name, n)
            else:
                api.apps.create_namespaced_deployment(namespace, body)
        except Exception as exc:
            if _refused_without_change(exc):
                undo.mark_done(step)
            raise
        dep, ready = _wait_ready(api.apps, namespace, name, n, started + timeout_s)
    except signals.INTERRUPTS:
        (_undo_scale if existing is not None else _undo_delete)(step.params, step.data)
        undo.mark_done(step)
        raise
    if ready < n:
        raise ActivityFailed(
            f"canary {namespace}/{name}: {ready}/{n} ready after {timeout_s:g} s; "
            f"{_why_not_ready(api.core, dep, namespace)}; end_canary and the rollback undo it"
        )
    return {
        "action": "start_canary",
        "at": time.time(),
        "context": context,
        "namespace": namespace,
        "canary": name,
        "created": existing is None,
        "previous_replicas": previous,
        "replicas": n,
        "ready_pods": _ready_pods(api.core, namespace, _selector(dep)),
        "duration_s": round(time.time() - started, 3),
    }


# --- the route -------------------------------------------------------------------------------


def parse_weights(weights: str | dict[str, Any] | None) -> dict[str, int]:
    """`"v1=90,v2=10"` (or the same as a dict) as {subset: weight}; ActivityFailed naming the field
    for anything Istio would not take (weights must be whole, non-negative and add up to 100)."""
    example = "e.g. 'v1=90,v2=10'"
    if isinstance(weights, dict):
        items = [(str(k).strip(), v) for k, v in weights.items()]
    elif isinstance(weights, str):
        items = []
        for part in (p.strip() for p in weights.split(",")):
            if not part:
                continue
            subset, sep, value = part.partition("=")
            if not sep:
                raise ActivityFailed(f"weights: {part!r} is not subset=weight ({example})")
            items.append((subset.strip(), value.strip()))
    else:
        raise ActivityFailed(f"weights: expected 'subset=weight,...' or an object, got {weights!r}")
    if not items:
        raise ActivityFailed(f"weights: at least one subset=weight is needed ({example})")
    out: dict[str, int] = {}
    for subset, value in items:
        if not subset:
            raise ActivityFailed(f"weights: a weight without a subset name ({example})")
        if subset in out:
            raise ActivityFailed(f"weights.{subset}: given twice")
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value))
        ):
            raise ActivityFailed(f"weights.{subset}: not a whole number: {value!r}")
        weight = int(value)
        if weight < 0:
            raise ActivityFailed(f"weights.{subset}: must not be negative, got {weight}")
        out[subset] = weight
    total = sum(out.values())
    if total != 100:
        raise ActivityFailed(f"weights: add up to {total}; Istio needs 100 ({weights!r})")
    return out


def _default_route(vs: dict[str, Any], where: str) -> tuple[list[dict[str, Any]], int]:
    """The VirtualService's http routes and the index of the first without `match`."""
    http = list((vs.get("spec") or {}).get("http") or [])
    index = default_route_index(http)
    if index is None:
        raise ActivityFailed(f"{where}: spec.http: no route without match")
    return http, index


def weighted_route(route: list[dict[str, Any]], weights: dict[str, int]) -> list[dict[str, Any]]:
    """`route` with exactly the subsets of `weights`, weighted so: existing destinations keep their
    host and other fields (in their order), missing subsets are added on the host (and port) of the
    first destination, destinations of other subsets are removed."""
    first = route[0].get("destination") or {}
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in route:
        subset = (entry.get("destination") or {}).get("subset")
        if subset in weights and subset not in seen:
            kept.append({**copy.deepcopy(entry), "weight": weights[subset]})
            seen.add(subset)
    for subset, weight in weights.items():
        if subset not in seen:
            dest: dict[str, Any] = {"host": first["host"], "subset": subset}
            if "port" in first:
                dest["port"] = copy.deepcopy(first["port"])
            kept.append({"destination": dest, "weight": weight})
    return kept


def _patch_http(custom: Any, namespace: str, name: str, http: list[dict[str, Any]], version: str | None) -> None:
    body: dict[str, Any] = {"spec": {"http": http}}
    if version:
        body["metadata"] = {"resourceVersion": version}  # refused (409) if it changed meanwhile
    custom.patch_namespaced_custom_object(ISTIO_GROUP, ISTIO_VERSION, namespace, VIRTUAL_SERVICES, name, body)


@undo.register(ROUTE_KIND, "namespace", "virtual_service", "route")
def _undo_route(params: dict[str, Any], data: dict[str, Any]) -> None:
    custom = _custom_objects(node_targets.clients_for_step(data))
    namespace, name = str(params["namespace"]), str(params["virtual_service"])
    for attempt in range(3):
        try:
            vs = custom.get_namespaced_custom_object(ISTIO_GROUP, ISTIO_VERSION, namespace, VIRTUAL_SERVICES, name)
            http, index = _default_route(vs, f"VirtualService {namespace}/{name}")
            http[index] = {**http[index], "route": copy.deepcopy(params["route"])}
            _patch_http(custom, namespace, name, http, (vs.get("metadata") or {}).get("resourceVersion"))
            return
        except Exception as exc:
            if k8s.api_status(exc) == 404:  # the VirtualService is gone: no route to restore
                return
            if k8s.api_status(exc) != 409 or attempt == 2:
                raise


def route_to_canary(
    namespace: str,
    virtual_service: str,
    weights: str | dict[str, Any],
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Set the first http route without `match` of the VirtualService `virtual_service` in
    `namespace` to the subsets and weights of `weights` (``"v1=90,v2=10"``, adding up to 100).

    Destinations keep their host and other fields; a subset not routed yet is added on the host of
    the route's first destination; destinations of other subsets are removed. The namespace must
    have opted in to chaos; `end_canary` (and the rollback) put the previous route back exactly.
    """
    guard.require_target("route_to_canary", namespace=namespace)
    guard.require_target("route_to_canary", virtual_service=virtual_service)
    wanted = parse_weights(weights)
    cleared = guard.authorize("route_to_canary", secrets, [namespace])
    context = cleared.context
    custom = _custom_objects(cleared.api)
    where = f"VirtualService {namespace}/{virtual_service}"
    try:
        vs = custom.get_namespaced_custom_object(
            ISTIO_GROUP, ISTIO_VERSION, namespace, VIRTUAL_SERVICES, virtual_service
        )
    except Exception as exc:
        if k8s.api_status(exc) == 404:
            raise ActivityFailed(f"no {where}") from None
        raise
    http, index = _default_route(vs, where)
    previous = copy.deepcopy(http[index].get("route") or [])
    if not previous or not (previous[0].get("destination") or {}).get("host"):
        raise ActivityFailed(f"{where}: spec.http[{index}].route: no destination host to route the subsets to")
    route = weighted_route(previous, wanted)
    http[index] = {**http[index], "route": route}
    step = undo.current().record(
        ROUTE_KIND,
        {"namespace": namespace, "virtual_service": virtual_service, "index": index, "route": previous},
        f"restore the route of {where}",
        **node_targets.context_extra(context),
    )
    try:
        _patch_http(custom, namespace, virtual_service, http, (vs.get("metadata") or {}).get("resourceVersion"))
    except signals.INTERRUPTS:
        _undo_route(step.params, step.data)
        undo.mark_done(step)
        raise
    except Exception as exc:
        if not _refused_without_change(exc):
            raise
        undo.mark_done(step)
        if k8s.api_status(exc) == 409:
            raise ActivityFailed(f"{where} changed while its route was set; nothing was changed") from None
        raise
    return {
        "action": "route_to_canary",
        "at": time.time(),
        "context": context,
        "namespace": namespace,
        "virtual_service": virtual_service,
        "http_index": index,
        "weights": wanted,
        "previous": previous,
        "route": route,
    }


# --- the end ---------------------------------------------------------------------------------

UNDO = {ROUTE_KIND: _undo_route, SCALE_KIND: _undo_scale, DELETE_KIND: _undo_delete}


def _undo_pending(action: str, kinds: set[str]) -> dict[str, Any]:
    """Undo this run's pending steps of `kinds`, newest first, routes before canaries. A step that
    fails stays pending (the safety control replays it) and fails the action."""
    pending = [s for s in undo.current().pending() if s.kind in kinds]
    pending.sort(key=lambda s: s.kind != ROUTE_KIND)  # stable: newest first within each group
    undone: list[str] = []
    failed: list[str] = []
    for step in pending:
        try:
            UNDO[step.kind](step.params, step.data)
        except Exception as exc:
            failed.append(f"{step.describe()}: {exc}")
            continue
        undo.mark_done(step)
        undone.append(step.describe())
    if failed:
        raise ActivityFailed(f"{action}: " + "; ".join(failed))
    return {"action": action, "at": time.time(), "undone": undone}


def route_back(secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Put back the routes `route_to_canary` changed in this run, and leave the canary running: as a
    canary controller does, the weight goes back to the stable before the canary's pods go, so no
    request is routed to a subset that is being emptied. Pause after it for the mesh to follow."""
    return _undo_pending("route_back", {ROUTE_KIND})


def end_canary(secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Undo what `route_to_canary` and `start_canary` did in this run, newest first: the routes put
    back, then the canaries scaled back or deleted. The experiment's last step and its rollback.
    A step that fails stays pending (the safety control replays it) and fails the action."""
    return _undo_pending("end_canary", set(UNDO))
