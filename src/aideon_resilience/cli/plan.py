"""`aideon-resilience plan --users N [--env E] [--manifests DIR] [--format text|json]`.

Renders the environment's overlay, reads each workload's HPA bounds, CPU request and required
anti-affinity and the declared cluster shape, and hands plain data to `core.plan`. Exit code 0 when
the declared bounds reach N users, 1 when they cannot, 2 for unusable input.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer

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
        out[name] = {"kind": obj["kind"], "replicas": int(spec.get("replicas", 1)), "cpu": cpu, "anti": bool(anti)}
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


def bounds_from_objects(objects: list[dict[str, Any]], source: Path) -> list[Any]:
    """Plain `ServiceBounds` for every Deployment/StatefulSet of a rendered overlay."""
    from aideon_resilience.core.plan import DEFAULT_TARGET_UTILIZATION, ServiceBounds

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
            )
        )
    return out


def plan(
    users: Annotated[int, typer.Option("--users", help="concurrent users to plan for")],
    env: Annotated[str, typer.Option("--env", help="environment under manifests/environments/")] = "production",
    manifests: Annotated[Path, typer.Option("--manifests", help="the manifests directory")] = Path("manifests"),
    output_format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    capacity: Annotated[
        Path | None, typer.Option("--capacity", help="worker capacity file (default: measured)")
    ] = None,
) -> None:
    """Capacity plan toward N users: load workers, replicas per service vs HPA bounds, nodes."""
    from aideon_resilience.adapters.kustomize import build
    from aideon_resilience.core.plan import ClusterBounds, load_capacity, make_plan, render_text, to_json
    from aideon_resilience.core.shape import load_cluster_shape

    if users <= 0:
        raise UsageError(f"plan: --users: {users} must be a positive number of users")
    if output_format not in ("text", "json"):
        raise UsageError(f"plan: --format: {output_format!r} must be text or json")
    env_dir = manifests / "environments" / env
    if not env_dir.is_dir():
        raise InputFileError(env_dir, f"no environment {env!r} (expected a kustomize overlay directory)")
    cap = load_capacity(capacity)
    shape = load_cluster_shape(env_dir)
    services = bounds_from_objects(build(env_dir), env_dir)
    cluster = ClusterBounds(env, shape.nodes, shape.node_allocatable.cpu_millis, shape.zone_count)
    result = make_plan(users, cap, services, cluster)
    if output_format == "json":
        typer.echo(json.dumps(to_json(result), indent=2))
    else:
        typer.echo(render_text(result))
    if not result.reaches:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
