"""`aideon-resilience lint PATH... [--nodes N] [--format text|json|sarif] [--disable CODE] [--explain CODE]`.

Each PATH (a kustomize directory or a YAML file) is rendered with the kustomize adapter and
linted on its own, together with the kustomization files it is built from (for the deprecated
kustomize field rule). The PATHs are rendered concurrently (kustomize runs as a subprocess).
Exit 0 without counted error-severity findings, 1 with at least one, 2 on unusable input.

Start-up matters here (the lint runs in editors and pre-commit hooks): this module imports only
typer and the standard library at import time; the lint itself (its rules, PyYAML) is
imported when the command runs.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aideon_resilience.errors import InputFileError, UsageError

if TYPE_CHECKING:
    from aideon_resilience.core.lint import Finding, LintContext

DEFAULT_NODES = 3
SHAPE_FILE = "cluster-shape.yaml"  # core.shape.SHAPE_FILE (kept here so --help imports nothing heavy)
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
FORMATS = ("text", "json", "sarif")

Source = tuple[dict[str, Any], Path | None]  # an object and the file it was read from


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


def kustomization_documents(root: Path) -> list[Source]:
    """The kustomization files a directory is built from, following local directory references."""
    from aideon_resilience.core.files import mapping, parse, read_text  # PyYAML: only when a lint runs

    seen: set[Path] = set()
    docs: list[Source] = []
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
        docs.append(({**data, "apiVersion": api_version, "kind": kind, "metadata": {"name": str(file)}}, file))
        for key in ("resources", "components", "bases"):
            for entry in data.get(key) or []:
                candidate = directory / str(entry)
                if isinstance(entry, str) and candidate.is_dir():
                    pending.append(candidate)
    return docs


def load_objects(path: Path, traced: bool = False) -> list[Source]:
    """Rendered objects of a PATH plus its kustomization files, each with its source file when
    `traced` (SARIF); unknown kinds are unusable input."""
    from aideon_resilience.adapters import kustomize  # PyYAML and subprocess: only when a lint runs
    from aideon_resilience.core.lint import unknown_kinds

    sources: list[Source] = kustomize.build_traced(path) if traced else [(o, None) for o in kustomize.build(path)]
    if not sources:
        raise InputFileError(path, "no Kubernetes object to lint (an empty file or overlay)")
    unknown = unknown_kinds([o for o, _ in sources])
    if unknown:
        raise InputFileError(path, f"unknown kind {unknown[0]}", field="kind")
    if path.is_dir():
        sources.extend(kustomization_documents(path))
    return sources


def context_for(path: Path, nodes: int | None) -> tuple[LintContext, str]:
    """Lint assumptions for a PATH and a phrase saying where they come from."""
    from aideon_resilience.core.lint import LintContext  # the lint: only when it runs

    shape_file = find_shape_file(path)
    shape = None
    if shape_file is not None:
        from aideon_resilience.core.config.shape import load_cluster_shape  # pydantic (about 0.1 s): only with a shape

        shape = load_cluster_shape(shape_file)
    zones = shape.zone_count if shape is not None else None
    if nodes is not None:
        origin = f"{nodes} nodes from --nodes"
    elif shape is not None:
        nodes, origin = shape.nodes, f"{shape.nodes} nodes from {shape_file}"
    else:
        nodes, origin = DEFAULT_NODES, f"{DEFAULT_NODES} nodes (default; no {SHAPE_FILE} found)"
    if zones is not None:
        origin += f", {zones} zones"
    alloc = shape.node_allocatable if shape is not None else None
    context = LintContext(
        nodes=nodes,
        zones=zones,
        node_cpu_millis=alloc.cpu_millis if alloc is not None else None,
        node_memory_mib=alloc.memory_mib if alloc is not None else None,
    )
    return context, origin


def _summary(path: Path, findings: list[Finding], origin: str) -> str:
    counted = [f for f in findings if f.counts]
    errors = sum(1 for f in counted if f.severity.value == "error")
    warnings = len(counted) - errors
    suppressed = len(findings) - len(counted)
    extra = f", {suppressed} suppressed" if suppressed else ""
    return f"{path}: {errors} error(s), {warnings} warning(s){extra} (assuming {origin})"


def _explain(code: str) -> None:
    from aideon_resilience.core.lint import docs  # the rules and their docs: only for --explain

    if code.lower() == "all":
        typer.echo(docs.document(), nl=False)
        return
    try:
        typer.echo(docs.explain_code(code), nl=False)
    except KeyError:
        raise UsageError(f"--explain: unknown rule code {code!r} (--explain all lists every rule)") from None


def _check_disabled(codes: list[str]) -> None:
    from aideon_resilience.core.lint import RULES  # the rules: only when a lint runs

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
    from aideon_resilience.core.lint import Severity, analysis_notes, lint  # the lint: only when it runs

    traced = output == "sarif"
    contexts = [context_for(path, nodes) for path in paths]
    # Load everything first (bad input must not produce partial output); kustomize runs as a
    # subprocess per PATH, so the renders overlap.
    with ThreadPoolExecutor(max_workers=min(4, len(paths))) as pool:
        loaded = list(pool.map(lambda p: load_objects(p, traced), paths))
    runs: list[tuple[Path, list[Finding], str]] = []
    notes: list[list[str]] = []
    for path, sources, (context, origin) in zip(paths, loaded, contexts, strict=True):
        objects = [o for o, _ in sources]
        findings = lint(objects, context, disabled)
        runs.append((path, _locate(findings, sources, path) if traced else findings, origin))
        # the analyses' figures need the node size of a declared cluster shape
        notes.append(analysis_notes(objects, context) if context.node_cpu_millis is not None else [])
    all_findings = [f for _, findings, _ in runs for f in findings]
    _print(output, runs, notes, all_findings)
    if any(f.severity is Severity.ERROR and f.counts for f in all_findings):
        raise typer.Exit(1)


def _print(output: str, runs: list[tuple[Path, list[Finding], str]], notes: list[list[str]],
           all_findings: list[Finding]) -> None:
    """The findings as JSON, SARIF, or text lines with each PATH's notes and summary."""
    if output == "json":
        typer.echo(json.dumps([f.contract() for f in all_findings], indent=2))
    elif output == "sarif":
        typer.echo(json.dumps(_sarif(all_findings), indent=2))
    else:
        for (path, findings, origin), lines in zip(runs, notes, strict=True):
            for f in findings:
                typer.echo(f.line())
            for line in lines:
                typer.echo(f"note {line}")
            typer.echo(_summary(path, findings, origin))


def _display_path(file: Path) -> str:
    """Relative to the working directory when under it (what code scanning expects), else absolute."""
    resolved = file.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def _locate(findings: list[Finding], sources: list[Source], path: Path) -> list[Finding]:
    """Findings with the file and line of their object's document (the PATH itself where the
    source is unknown, e.g. objects kustomize generates)."""
    from aideon_resilience.adapters.kustomize import document_lines  # PyYAML and subprocess: only when the command runs
    from aideon_resilience.core.lint.model import Location, ObjectRef, ref

    lines: dict[Path, list[tuple[str, str, int]]] = {}
    where: dict[ObjectRef, Location] = {}
    for obj, source in sources:
        r = ref(obj)
        if source is None or r in where:
            continue
        if source not in lines:
            lines[source] = document_lines(source) if source.suffix in (".yaml", ".yml") else []
        docs = [(kind, name, line) for kind, name, line in lines[source] if kind == r.kind]
        exact = [line for _, name, line in docs if name == r.name]
        near = [line for _, name, line in docs if name and name in r.name]  # namePrefix / nameSuffix
        line = (exact or near or [d[2] for d in docs] or [1])[0]
        where[r] = Location(file=_display_path(source), line=line)
    fallback_file = path if path.is_file() else _kustomization_file(path) or path
    fallback = Location(file=_display_path(fallback_file), line=1)
    return [f.with_location(where.get(f.object, fallback)) for f in findings]


def _sarif(findings: list[Finding]) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version  # package metadata: only for SARIF output

    from aideon_resilience.core.lint import RULES
    from aideon_resilience.core.lint.sarif import sarif_log

    try:
        tool_version = version("aideon-resilience")
    except PackageNotFoundError:
        tool_version = "0"
    return sarif_log(findings, RULES, tool_version)


def register(app: typer.Typer) -> None:
    app.command("lint")(lint_command)
