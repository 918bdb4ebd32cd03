"""The evidence sampler: watches (not repeated lists) of the cluster, written as a timeline.

One thread per resource kind follows a watch from a resource version and turns each event
into timeline records (see `aideon_resilience.core.evidence.timeline`): workload replicas with the HPA's
bounds and current/desired counts, each PDB's healthy/minimum/disruptions allowed, running pods
per node and zone, pending pods, node conditions. A record is written only when what it says
changed. An expired watch (410 Gone) is resumed with a fresh list, as client-go's reflector does.

A watch that fails (the API server restarting, a dropped connection) is retried every second from
its last resource version; when it works again the sampler writes an `evidence_gap` record (the
stream, when it went blind, why), and `stop()` writes one for a stream still blind at the end. The
evaluation never passes an SLO whose evidence falls in a gap (`core/evaluate/gaps.py`).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from kubernetes import client, watch

from aideon_resilience.core.conditions import is_ready
from aideon_resilience.core.evidence.timeline import (
    EvidenceGap,
    NodeSample,
    PdbSample,
    PendingSample,
    PlacementSample,
    StatefulPodSample,
    TimelineEvent,
    WorkloadSample,
)
from aideon_resilience.core.evidence.timeline_writer import TimelineWriter
from aideon_resilience.core.selectors import HOSTNAME_LABEL, SERVICE_LABEL, ZONE_LABEL


def _workload_of(pod: Any) -> str:
    labels = pod.metadata.labels or {}
    for key in (SERVICE_LABEL, "app"):
        if labels.get(key):
            return str(labels[key])
    for ref in pod.metadata.owner_references or []:
        name = str(ref.name)
        if ref.kind == "ReplicaSet" and "pod-template-hash" in labels:
            return name.removesuffix("-" + labels["pod-template-hash"])
        return name
    return str(pod.metadata.name)


def _stateful_pod(kind: str, pod: Any, workload: str,
                  volume_of: Callable[[str, str], str | None] = lambda ns, claim: None) -> StatefulPodSample | None:
    """The sample of a StatefulSet's pod (None for any other pod); `volume_of(namespace, claim)`
    names the volume a claim is bound to."""
    refs = pod.metadata.owner_references or []
    if not any(ref.kind == "StatefulSet" for ref in refs):
        return None
    gone = kind == "DELETED"
    ready = not gone and is_ready(pod)
    phase = "Deleted" if gone else "Terminating" if pod.metadata.deletion_timestamp else str(pod.status.phase)
    claims = sorted(v.persistent_volume_claim.claim_name for v in (pod.spec.volumes or [])
                    if getattr(v, "persistent_volume_claim", None) is not None)
    bound = {c: v for c in claims if (v := volume_of(pod.metadata.namespace, c))}
    return StatefulPodSample(t=0, kind="stateful_pod", namespace=pod.metadata.namespace, workload=workload,
                             pod=pod.metadata.name, uid=str(pod.metadata.uid), node=pod.spec.node_name,
                             phase=phase, ready=ready, claims=claims, volumes=bound)


def _scaling_inactive(hpa: Any) -> str | None:
    """The reason of an HPA's ScalingActive=False condition (no metrics, e.g. metrics-server down)."""
    for c in (hpa.status.conditions if hpa.status else None) or []:
        if c.type == "ScalingActive" and c.status == "False":
            return str(c.reason or "ScalingActive=False")
    return None


def _int_or_percent(value: Any, replicas: int, round_up: bool) -> int:
    """A Deployment's maxSurge/maxUnavailable against `replicas` (intstr.GetScaledValueFromIntOrPercent)."""
    text = str(value).strip()
    if not text.endswith("%"):
        return int(text)
    share = int(text[:-1]) * replicas
    return -(-share // 100) if round_up else share // 100


def max_unavailable(replicas: int, strategy: Any) -> int:
    """How many of `replicas` a rollout may take out of service, as the Deployment controller
    resolves it (deploymentutil.ResolveFenceposts): maxSurge rounds up, maxUnavailable down, and
    when both come to zero one may be unavailable. `Recreate` takes all of them down."""
    if strategy is not None and strategy.type == "Recreate":
        return replicas
    rolling = getattr(strategy, "rolling_update", None)
    surge_v = getattr(rolling, "max_surge", None)
    unavailable_v = getattr(rolling, "max_unavailable", None)
    surge = _int_or_percent("25%" if surge_v is None else surge_v, replicas, round_up=True)
    unavailable = _int_or_percent("25%" if unavailable_v is None else unavailable_v, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        return 1
    return min(unavailable, replicas)


def _rollout_state(workload: Any) -> dict[str, int]:
    """A Deployment's rollout fields of a `WorkloadSample` (none for a StatefulSet)."""
    strategy = getattr(workload.spec, "strategy", None)
    if hasattr(workload.spec, "service_name") or workload.status is None:
        return {}
    replicas = int(workload.spec.replicas or 0)
    return {
        "total_replicas": int(workload.status.replicas or 0),
        "updated": int(workload.status.updated_replicas or 0),
        "max_unavailable": max_unavailable(replicas, strategy),
    }


def _anti_affinity(workload: Any) -> str:
    """How the pod template spreads replicas over nodes: "required", "preferred" or "none"."""
    spec = workload.spec.template.spec
    anti = spec.affinity.pod_anti_affinity if spec.affinity else None
    if anti is None:
        return "none"
    required = anti.required_during_scheduling_ignored_during_execution or []
    if any(t.topology_key == HOSTNAME_LABEL for t in required):
        return "required"
    if anti.preferred_during_scheduling_ignored_during_execution or required:
        return "preferred"
    return "none"


class Sampler:
    """Follows the cluster with watches and records the timeline until `stop()`."""

    def __init__(
        self,
        api: client.ApiClient,
        writer: TimelineWriter,
        namespaces: Iterable[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.writer = writer
        self.namespaces = set(namespaces) if namespaces else None
        self.clock = clock
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.errors: list[str] = []
        # state, guarded by _lock
        self._workloads: dict[tuple[str, str], dict[str, Any]] = {}
        self._hpas: dict[tuple[str, str], dict[str, Any]] = {}  # by target (ns, workload)
        self._pods: dict[tuple[str, str], tuple[str, str | None, str]] = {}  # -> (workload, node, phase)
        self._node_zone: dict[str, str | None] = {}
        self._last: dict[tuple[str, ...], str] = {}
        self._blind: dict[str, tuple[float, str]] = {}  # stream -> (since, why) while its watch fails

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        core = client.CoreV1Api(self.api)
        apps = client.AppsV1Api(self.api)
        autoscaling = client.AutoscalingV2Api(self.api)
        policy = client.PolicyV1Api(self.api)
        streams: list[tuple[str, Callable[..., Any], Callable[[str, Any], None]]] = [
            ("nodes", core.list_node, self._on_node),
            ("pods", core.list_pod_for_all_namespaces, self._on_pod),
            ("deployments", apps.list_deployment_for_all_namespaces, self._on_workload),
            ("statefulsets", apps.list_stateful_set_for_all_namespaces, self._on_workload),
            ("hpas", autoscaling.list_horizontal_pod_autoscaler_for_all_namespaces, self._on_hpa),
            ("pdbs", policy.list_pod_disruption_budget_for_all_namespaces, self._on_pdb),
        ]
        for name, list_fn, handler in streams:
            t = threading.Thread(target=self._follow, args=(name, list_fn, handler), name=f"sampler-{name}",
                                 daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        for name in list(self._blind):
            self._seeing(name)  # still blind at the end: the gap runs to now

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def hpas_settled(self, targets: Iterable[str] | None = None) -> bool:
        """The HPAs of `targets` ("namespace/workload"; default: every HPA seen) run at their
        minimum again (current and desired), e.g. after a surge."""
        wanted = set(targets) if targets is not None else None
        with self._lock:
            hpas = [h for (ns, wl), h in self._hpas.items() if wanted is None or f"{ns}/{wl}" in wanted]
        return all(
            (h["hpa_current"] or 0) <= (h["hpa_min"] or 1) and (h["hpa_desired"] or 0) <= (h["hpa_min"] or 1)
            for h in hpas
        )

    # -- watch loop ----------------------------------------------------------------------------
    def _follow(self, name: str, list_fn: Callable[..., Any], handler: Callable[[str, Any], None]) -> None:
        resource_version: str | None = None
        while not self._stop.is_set():
            try:
                if resource_version is None:
                    listing = list_fn(_request_timeout=30)
                    self._seeing(name)
                    for item in listing.items:
                        handler("ADDED", item)
                    resource_version = listing.metadata.resource_version
                w = watch.Watch()
                for event in w.stream(list_fn, resource_version=resource_version, timeout_seconds=5,
                                      allow_watch_bookmarks=True, _request_timeout=15):
                    self._seeing(name)
                    if self._stop.is_set():
                        w.stop()
                        break
                    obj = event["object"]
                    if event["type"] == "ERROR":  # a Status, e.g. 410 Gone: list again
                        resource_version = None
                        break
                    if isinstance(obj, dict):  # bookmarks arrive undecoded
                        resource_version = obj.get("metadata", {}).get("resourceVersion") or resource_version
                        continue
                    resource_version = obj.metadata.resource_version
                    if event["type"] != "BOOKMARK":
                        handler(event["type"], obj)
                else:
                    self._seeing(name)  # the watch ended at its timeout: it worked
            except client.ApiException as exc:
                if exc.status == 410:
                    resource_version = None  # expired: list again
                else:
                    self._blinded(name, f"API error {exc.status}")
                    self._stop.wait(1)
            except Exception as exc:  # a dropped connection: resume from the last version
                self._blinded(name, f"{exc.__class__.__name__}: {exc}")
                self._stop.wait(1)

    def _blinded(self, name: str, why: str) -> None:
        self._error(f"{name}: {why}")
        with self._lock:
            self._blind.setdefault(name, (self.clock(), why[:200]))

    def _seeing(self, name: str) -> None:
        with self._lock:
            blind = self._blind.pop(name, None)
        if blind is not None:
            since, why = blind
            self.writer.write(EvidenceGap(t=self.clock(), stream=name, start=since, reason=why))

    def _error(self, message: str) -> None:
        with self._lock:
            if len(self.errors) < 100:
                self.errors.append(message)

    def _in_scope(self, namespace: str | None) -> bool:
        return self.namespaces is None or namespace in self.namespaces

    def _emit(self, key: tuple[str, ...], event: TimelineEvent) -> None:
        """Write `event`, timed now, unless it says the same as the last one for `key` (ignoring t)."""
        body = event.model_dump_json(exclude={"t"})
        with self._lock:
            if self._last.get(key) == body:
                return
            self._last[key] = body
        self.writer.write(event.model_copy(update={"t": self.clock()}))

    # -- handlers ------------------------------------------------------------------------------
    def _on_node(self, kind: str, node: Any) -> None:
        name = node.metadata.name
        zone = (node.metadata.labels or {}).get(ZONE_LABEL)
        with self._lock:
            self._node_zone[name] = zone
        ready = is_ready(node)
        if kind == "DELETED":
            ready = False
        rec = NodeSample(t=0, kind="node", name=name, zone=zone, ready=ready,
                         unschedulable=bool(node.spec.unschedulable))
        self._emit(("node", name), rec)

    def _on_workload(self, kind: str, obj: Any) -> None:
        ns, name = obj.metadata.namespace, obj.metadata.name
        if not self._in_scope(ns):
            return
        with self._lock:
            if kind == "DELETED":
                self._workloads.pop((ns, name), None)
                return
            self._workloads[(ns, name)] = {
                "workload_kind": obj.kind or ("StatefulSet" if hasattr(obj.spec, "service_name") else "Deployment"),
                "replicas": int(obj.spec.replicas or 0),
                "ready": int(obj.status.ready_replicas or 0),
                "anti_affinity": _anti_affinity(obj),
                **_rollout_state(obj),
            }
        self._emit_workload(ns, name)

    def _on_hpa(self, kind: str, hpa: Any) -> None:
        ns = hpa.metadata.namespace
        if not self._in_scope(ns):
            return
        target = hpa.spec.scale_target_ref.name
        with self._lock:
            if kind == "DELETED":
                self._hpas.pop((ns, target), None)
            else:
                self._hpas[(ns, target)] = {
                    "hpa_min": hpa.spec.min_replicas,
                    "hpa_max": hpa.spec.max_replicas,
                    "hpa_current": hpa.status.current_replicas if hpa.status else None,
                    "hpa_desired": hpa.status.desired_replicas if hpa.status else None,
                    "hpa_inactive": _scaling_inactive(hpa),
                }
        self._emit_workload(ns, target)

    def _emit_workload(self, ns: str, name: str) -> None:
        with self._lock:
            wl = self._workloads.get((ns, name))
            hpa = self._hpas.get((ns, name), {})
        if wl is None:
            return
        rec = WorkloadSample(t=0, kind="workload", namespace=ns, name=name, **wl, **hpa)
        self._emit(("workload", ns, name), rec)

    def _on_pdb(self, kind: str, pdb: Any) -> None:
        ns = pdb.metadata.namespace
        if not self._in_scope(ns) or kind == "DELETED" or pdb.status is None:
            return
        st = pdb.status
        rec = PdbSample(
            t=0, kind="pdb", namespace=ns, name=pdb.metadata.name,
            current_healthy=int(st.current_healthy or 0), desired_healthy=int(st.desired_healthy or 0),
            disruptions_allowed=int(st.disruptions_allowed or 0), expected_pods=int(st.expected_pods or 0),
        )
        self._emit(("pdb", ns, pdb.metadata.name), rec)

    def _on_pod(self, kind: str, pod: Any) -> None:
        ns = pod.metadata.namespace
        if not self._in_scope(ns):
            return
        key = (ns, pod.metadata.name)
        workload = _workload_of(pod)
        with self._lock:
            before = self._pods.get(key)
            if kind == "DELETED":
                self._pods.pop(key, None)
            else:
                phase = "Terminating" if pod.metadata.deletion_timestamp else str(pod.status.phase)
                self._pods[key] = (workload, pod.spec.node_name, phase)
        touched = {workload} | ({before[0]} if before else set())
        for wl in touched:
            self._emit_placement(ns, wl)
        stateful = _stateful_pod(kind, pod, workload, self._volume_of)
        if stateful is not None:
            self._emit(("stateful_pod", ns, pod.metadata.name, stateful.uid), stateful)

    def _volume_of(self, ns: str, claim: str) -> str | None:
        """The volume the claim is bound to, read now: a claim deleted and made again is bound to another."""
        try:
            pvc = client.CoreV1Api(self.api).read_namespaced_persistent_volume_claim(claim, ns, _request_timeout=5)
        except Exception:  # the sample then names no volume, and the SLO does not compare it
            return None
        return (pvc.spec.volume_name if pvc.spec else None) or None

    def _emit_placement(self, ns: str, workload: str) -> None:
        with self._lock:
            per_node: dict[str, int] = defaultdict(int)
            pending = 0
            for (pns, _), (wl, node, phase) in self._pods.items():
                if pns != ns or wl != workload:
                    continue
                if phase == "Running" and node:
                    per_node[node] += 1
                elif phase == "Pending":
                    pending += 1
            known_nodes = {k[3] for k in self._last if k[:3] == ("placement", ns, workload)}
            zones = dict(self._node_zone)
        for node in sorted(known_nodes | set(per_node)):
            rec = PlacementSample(t=0, kind="placement", namespace=ns, workload=workload, node=node,
                                  zone=zones.get(node), pods=per_node.get(node, 0))
            self._emit(("placement", ns, workload, node), rec)
        prec = PendingSample(t=0, kind="pending", namespace=ns, workload=workload, pods=pending)
        self._emit(("pending", ns, workload), prec)
