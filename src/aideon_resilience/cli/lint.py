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
import yaml

from aideon_resilience.adapters import kustomize
from aideon_resilience.core.lint import RULES, Finding, LintContext, Severity, lint, unknown_kinds
from aideon_resilience.core.shape import SHAPE_FILE, ClusterShape, load_cluster_shape
from aideon_resilience.errors import InputFileError, UsageError

DEFAULT_NODES = 3
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


FORMATS = ("text", "json", "sarif")


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
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            raise InputFileError(file, "invalid YAML") from None
        if not isinstance(data, dict):
            raise InputFileError(file, "a kustomization must be a mapping")
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
    counted = [f for f in findings if f.counts]
    errors = sum(1 for f in counted if f.severity is Severity.ERROR)
    warnings = len(counted) - errors
    suppressed = len(findings) - len(counted)
    extra = f", {suppressed} suppressed" if suppressed else ""
    return f"{path}: {errors} error(s), {warnings} warning(s){extra} (assuming {origin})"


def _explain(code: str) -> None:
    from aideon_resilience.core.lint import docs

    if code.lower() == "all":
        typer.echo(docs.document(), nl=False)
        return
    try:
        typer.echo(docs.explain_code(code), nl=False)
    except KeyError:
        raise UsageError(f"--explain: unknown rule code {code!r} (--explain all lists every rule)") from None


def _check_disabled(codes: list[str]) -> None:
    known = {r.code for r in RULES}
    for code in codes:
        if code.upper() not in known:
            raise UsageError(f"--disable: unknown rule code {code!r} (--explain all lists every rule)")


def lint_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="PATH", help="kustomize directories or YAML files", show_default=False),
    ] = None,
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
    output: Annotated[str, typer.Option("--format", help="text, json or sarif")] = "text",
    disable: Annotated[
        list[str] | None,
        typer.Option("--disable", metavar="CODE", help="report findings of this rule as suppressed (repeatable)"),
    ] = None,
    explain: Annotated[
        str | None,
        typer.Option("--explain", metavar="CODE", help="print the doc of a rule (`all`: every rule) and exit"),
    ] = None,
) -> None:
    """Static resilience lint: budgets, replicas, spreading, HPAs, probes, mesh, storage, drains, zones.

    Exit 0 with no error-severity finding, 1 with at least one, 2 on unusable input.
    Suppressed findings (annotation lint.aideon.io/ignore with lint.aideon.io/ignore-reason, or
    --disable) are listed but do not count.
    """
    if explain is not None:
        _explain(explain)
        return
    if not paths:
        raise UsageError("lint: give at least one PATH (or --explain CODE)")
    if output not in FORMATS:
        raise UsageError(f"--format: expected text, json or sarif, got {output!r}")
    if nodes is not None and nodes < 1:
        raise UsageError(f"--nodes: expected at least 1 schedulable node, got {nodes}")
    disabled = [c.upper() for c in disable or []]
    _check_disabled(disabled)
    runs: list[tuple[Path, list[Finding], str]] = []
    for path in paths:  # load everything first: bad input must not produce partial output
        objects = load_objects(path)
        context, origin = context_for(path, nodes)
        runs.append((path, lint(objects, context, disabled), origin))
    all_findings = [f for _, findings, _ in runs for f in findings]
    if output == "json":
        typer.echo(json.dumps([f.contract() for f in all_findings], indent=2))
    else:
        for path, findings, origin in runs:
            for f in findings:
                typer.echo(f.line())
            typer.echo(_summary(path, findings, origin))
    if any(f.severity is Severity.ERROR and f.counts for f in all_findings):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("lint")(lint_command)
