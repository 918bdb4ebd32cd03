"""The bounds an environment's rendered overlay declares for the capacity plan.

Each Deployment and StatefulSet's CPU request (summed over containers), HPA bounds and target
utilization (or its fixed replica count) and whether it requires hostname anti-affinity, as plain
`ServiceBounds` for `core.plan.make_plan`. Used by `plan` and by the rehearsal, which records what
the plan needs of every workload as the modelled users change.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aideon_resilience.core.plan.capacity import DEFAULT_TARGET_UTILIZATION, ServiceBounds
from aideon_resilience.core.selectors import SERVICE_LABEL
from aideon_resilience.errors import InputFileError, UsageError

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")


def cpu_millis(quantity: object, where: str) -> float:
    """A Kubernetes CPU quantity ("500m", "1", "0.25") in millicores."""
    m = _CPU.match(str(quantity).strip())
    if m is None:
        raise UsageError(f"{where}: CPU quantity {quantity!r} is not understood")
    value = float(m.group(1))
    return value if m.group(2) else value * 1000


def _workloads(objects: list[dict[str, Any]], source: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for obj in objects:
        if obj.get("kind") not in ("Deployment", "StatefulSet"):
            continue
        meta = obj.get("metadata") or {}
        name = str(meta.get("name", ""))
        spec = obj.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or {}
        cpu = 0.0
        for c in pod.get("containers") or []:
            req = ((c.get("resources") or {}).get("requests") or {}).get("cpu")
            if req is not None:
                cpu += cpu_millis(req, f"{source}: {obj['kind']}/{name}: container {c.get('name')}")
        anti = ((pod.get("affinity") or {}).get("podAntiAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        out[name] = {"kind": obj["kind"], "replicas": int(spec.get("replicas", 1)), "cpu": cpu, "anti": bool(anti),
                     "service": labels.get(SERVICE_LABEL)}
    return out


def _hpas(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for obj in objects:
        if obj.get("kind") != "HorizontalPodAutoscaler":
            continue
        spec = obj.get("spec") or {}
        target = str((spec.get("scaleTargetRef") or {}).get("name", ""))
        util = None
        for metric in spec.get("metrics") or []:
            res = metric.get("resource") or {}
            if metric.get("type") == "Resource" and res.get("name") == "cpu":
                util = (res.get("target") or {}).get("averageUtilization")
        out[target] = {
            "min": int(spec.get("minReplicas", 1)),
            "max": int(spec.get("maxReplicas", 1)),
            "util": float(util) / 100 if util else None,
        }
    return out


def bounds_from_objects(objects: list[dict[str, Any]], source: Path) -> list[ServiceBounds]:
    """Plain `ServiceBounds` for every Deployment/StatefulSet of a rendered overlay."""
    hpas = _hpas(objects)
    out = []
    for name, w in sorted(_workloads(objects, source).items()):
        hpa = hpas.get(name)
        if w["cpu"] <= 0:
            raise InputFileError(source, "no CPU request: the plan cannot size it", field=f"{w['kind']}/{name}")
        out.append(
            ServiceBounds(
                name=name,
                cpu_request_millis=w["cpu"],
                min_replicas=hpa["min"] if hpa else w["replicas"],
                max_replicas=hpa["max"] if hpa else w["replicas"],
                has_hpa=hpa is not None,
                target_utilization=(hpa["util"] if hpa and hpa["util"] else DEFAULT_TARGET_UTILIZATION),
                required_anti_affinity=w["anti"],
                service=w["service"],
            )
        )
    return out
