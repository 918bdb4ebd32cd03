"""`aideon-resilience plan --users N [--env E] [--manifests DIR] [--format text|json]`.

Renders the environment's overlay, reads each workload's HPA bounds, CPU request and required
anti-affinity and the declared cluster shape, and hands plain data to `core.plan`. Exit code 0 when
the declared bounds reach N users, 1 when they cannot, 2 for unusable input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from aideon_resilience.errors import InputFileError, UsageError


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
    from aideon_resilience.adapters.kustomize import build  # PyYAML and subprocess: only when the command runs
    from aideon_resilience.core.config.shape import load_cluster_shape
    from aideon_resilience.core.plan.bounds import bounds_from_objects
    from aideon_resilience.core.plan.capacity import ClusterBounds, load_capacity, make_plan, render_text, to_json

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
