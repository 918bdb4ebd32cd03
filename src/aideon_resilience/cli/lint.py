"""`aideon-resilience lint PATH... [--nodes N] [--format text|json]`: static resilience lint.

Each PATH (a kustomize directory or a YAML file) is rendered with the kustomize adapter and
linted on its own, together with the kustomization files it is built from (for the deprecated
kustomize field rule). Exit 0 without error-severity findings, 1 with at least one, 2 on
unusable input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from aideon_resilience.adapters import kustomize
from aideon_resilience.adapters.kustomize import KUSTOMIZATION_NAMES
from aideon_resilience.core.files import mapping, parse, read_text
from aideon_resilience.core.lint import Finding, LintContext, Severity, lint, unknown_kinds
from aideon_resilience.core.shape import SHAPE_FILE, ClusterShape, load_cluster_shape
from aideon_resilience.errors import InputFileError, UsageError

DEFAULT_NODES = 3


FORMATS = ("text", "json")


def find_shape_file(path: Path) -> Path | None:
    """The cluster-shape.yaml of the environment a path belongs to: in the path or a parent of it."""
    start = path.resolve()
    candidates = [start] if start.is_dir() else []
    candidates.extend(start.parents)
    for directory in candidates:
        shape = directory / SHAPE_FILE
        if shape.is_file():
            return shape
    return None


def _kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_NAMES:
        if (directory / name).is_file():
            return directory / name
    return None


def kustomization_documents(root: Path) -> list[dict[str, Any]]:
    """The kustomization files a directory is built from, following local directory references."""
    seen: set[Path] = set()
    docs: list[dict[str, Any]] = []
    pending = [root]
    while pending:
        directory = pending.pop().resolve()
        if directory in seen:
            continue
        seen.add(directory)
        file = _kustomization_file(directory)
        if file is None:
            continue
        data = mapping(parse(read_text(file), file, "yaml"), file, "a kustomization (a mapping)")
        kind = str(data.get("kind", "Kustomization"))
        version = "v1alpha1" if kind == "Component" else "v1beta1"
        api_version = data.get("apiVersion", f"kustomize.config.k8s.io/{version}")
        docs.append({**data, "apiVersion": api_version, "kind": kind, "metadata": {"name": str(file)}})
        for key in ("resources", "components", "bases"):
            for entry in data.get(key) or []:
                candidate = directory / str(entry)
                if isinstance(entry, str) and candidate.is_dir():
                    pending.append(candidate)
    return docs


def load_objects(path: Path) -> list[dict[str, Any]]:
    """Rendered objects of a PATH plus its kustomization files; unknown kinds are unusable input."""
    objects = kustomize.build(path)
    if not objects:
        raise InputFileError(path, "no Kubernetes object to lint (an empty file or overlay)")
    unknown = unknown_kinds(objects)
    if unknown:
        raise InputFileError(path, f"unknown kind {unknown[0]}", field="kind")
    if path.is_dir():
        objects.extend(kustomization_documents(path))
    return objects


def context_for(path: Path, nodes: int | None) -> tuple[LintContext, str]:
    """Lint assumptions for a PATH and a phrase saying where they come from."""
    shape_file = find_shape_file(path)
    shape: ClusterShape | None = load_cluster_shape(shape_file) if shape_file is not None else None
    zones = shape.zone_count if shape is not None else None
    if nodes is not None:
        origin = f"{nodes} nodes from --nodes"
    elif shape is not None:
        nodes, origin = shape.nodes, f"{shape.nodes} nodes from {shape_file}"
    else:
        nodes, origin = DEFAULT_NODES, f"{DEFAULT_NODES} nodes (default; no {SHAPE_FILE} found)"
    if zones is not None:
        origin += f", {zones} zones"
    return LintContext(nodes=nodes, zones=zones), origin


def _summary(path: Path, findings: list[Finding], origin: str) -> str:
    errors = sum(1 for f in findings if f.severity is Severity.ERROR)
    warnings = len(findings) - errors
    return f"{path}: {errors} error(s), {warnings} warning(s) (assuming {origin})"


def lint_command(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH", help="kustomize directories or YAML files", show_default=False)
    ],
    nodes: Annotated[
        int | None,
        typer.Option(
            "--nodes",
            help=(
                "schedulable nodes to assume; default: `nodes` of the environment's cluster-shape.yaml "
                f"found in PATH or a parent directory (zones come from it too), else {DEFAULT_NODES}"
            ),
        ),
    ] = None,
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Static resilience lint: PDBs, HPAs, anti-affinity, probes, requests, policies, deprecations.

    Exit 0 with no error-severity finding, 1 with at least one, 2 on unusable input.
    """
    if output not in FORMATS:
        raise UsageError(f"--format: expected text or json, got {output!r}")
    if nodes is not None and nodes < 1:
        raise UsageError(f"--nodes: expected at least 1 schedulable node, got {nodes}")
    runs: list[tuple[Path, list[Finding], str]] = []
    for path in paths:  # load everything first: bad input must not produce partial output
        objects = load_objects(path)
        context, origin = context_for(path, nodes)
        runs.append((path, lint(objects, context), origin))
    all_findings = [f for _, findings, _ in runs for f in findings]
    if output == "json":
        typer.echo(json.dumps([f.model_dump(mode="json") for f in all_findings], indent=2))
    else:
        for path, findings, origin in runs:
            for f in findings:
                typer.echo(f.line())
            typer.echo(_summary(path, findings, origin))
    if any(f.severity is Severity.ERROR for f in all_findings):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("lint")(lint_command)
