"""Render a kustomize directory (or read plain YAML files) into a list of Kubernetes objects.

kustomize is run through `kubectl kustomize`, using the kubectl built for the local cluster
when present and the one on PATH otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from aideon_resilience.core.files import mapping, parse, read_text
from aideon_resilience.errors import InfrastructureError, InputFileError
from aideon_resilience.settings import settings

KubeObject = dict[str, Any]

# libyaml's loader when PyYAML was built with it: about 4x faster on a rendered overlay, same result.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def kubectl_path() -> str:
    built = settings().cache_dir / "bin" / "kubectl"
    if built.is_file() and os.access(built, os.X_OK):
        return str(built)
    found = shutil.which("kubectl")
    if found is None:
        raise InfrastructureError("kubectl not found: run scripts/build-k8s.sh or put kubectl on PATH")
    return found


def _parse(text: str, source: Path) -> list[KubeObject]:
    try:
        docs = [d for d in yaml.load_all(text, Loader=_LOADER) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputFileError(source, f"invalid YAML{where}") from None
    objects: list[KubeObject] = []
    for i, doc in enumerate(docs, start=1):
        if not isinstance(doc, dict):
            raise InputFileError(source, f"not a mapping but a {type(doc).__name__}", field=f"document {i}")
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            objects.extend(doc["items"])
        else:
            objects.append(doc)
    return objects


def _kustomize(path: Path, target: Path) -> list[KubeObject]:
    proc = subprocess.run(
        [kubectl_path(), "kustomize", str(target)], capture_output=True, text=True, check=False, timeout=120
    )
    if proc.returncode != 0:
        raise InputFileError(path, f"kustomize build failed: {kustomize_error(proc.stderr)}")
    return _parse(proc.stdout, path)


def kustomize_error(stderr: str) -> str:
    """kubectl's (klog-formatted, often multi-line) error as one line: what failed, with the file it names."""
    text = " ".join(stderr.split())
    text = re.sub(r"^[EWI]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] ", "", text)  # the klog header
    text = re.sub(r'^"command failed" err=', "", text).strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    text = text.strip('"').replace("` ", "`").replace(" `", "`") or "kustomize failed"
    return text if len(text) <= 300 else text[:299] + "…"


def _check_path(path: Path) -> None:
    """A file, or a directory whose kustomization is readable YAML holding a mapping."""
    if not path.exists():
        raise InputFileError(path, "no such file or directory")
    if path.is_file():
        return
    kustomization = next((path / n for n in KUSTOMIZATION_NAMES if (path / n).is_file()), None)
    if kustomization is None:
        raise InputFileError(path, "not a kustomize directory (no kustomization.yaml)")
    mapping(parse(read_text(kustomization), kustomization, "yaml"), kustomization, "a kustomization (a mapping)")


def build(path: Path) -> list[KubeObject]:
    """Objects of a kustomize directory, or of one YAML file (multi-document allowed)."""
    _check_path(path)
    if path.is_file():
        return _parse(read_text(path), path)
    return _kustomize(path, path)


ORIGIN_ANNOTATION = "config.kubernetes.io/origin"


def build_traced(path: Path) -> list[tuple[KubeObject, Path | None]]:
    """Like `build`, with the source file each object comes from (None where kustomize cannot say,
    e.g. generated objects). A directory is built through a wrapper kustomization that asks for
    kustomize's origin annotations (`buildMetadata: [originAnnotations]`), which are removed again;
    that build costs about twice a plain one, so only SARIF output uses it."""
    _check_path(path)
    if path.is_file():
        return [(obj, path) for obj in _parse(read_text(path), path)]
    with tempfile.TemporaryDirectory(prefix="aideon-lint-") as tmp:
        wrapper = Path(tmp)
        relative = os.path.relpath(path.resolve(), wrapper)  # kustomize refuses absolute resource paths
        (wrapper / "kustomization.yaml").write_text(
            f"resources:\n- {relative}\nbuildMetadata: [originAnnotations]\n", encoding="utf-8"
        )
        objects = _kustomize(path, wrapper)
        return [(obj, _pop_origin(obj, wrapper)) for obj in objects]


def _pop_origin(obj: KubeObject, base: Path) -> Path | None:
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    origin = annotations.pop(ORIGIN_ANNOTATION, None)
    if not annotations and "annotations" in meta:
        del meta["annotations"]
    if not isinstance(origin, str):
        return None
    try:
        data = yaml.safe_load(origin)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("path"), str) or data.get("repo"):
        return None
    return Path(os.path.normpath(base / data["path"]))


def document_lines(file: Path) -> list[tuple[str, str, int]]:
    """(kind, metadata.name, 1-based line where the document starts) of each document of a YAML file."""
    try:
        nodes = list(yaml.compose_all(file.read_text(encoding="utf-8"), Loader=_LOADER))
    except (OSError, yaml.YAMLError):
        return []
    found: list[tuple[str, str, int]] = []
    for node in nodes:
        if not isinstance(node, yaml.MappingNode):
            continue
        fields = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        kind = fields.get("kind")
        meta = fields.get("metadata")
        names = [
            str(v.value) for k, v in (meta.value if isinstance(meta, yaml.MappingNode) else [])
            if k.value == "name" and isinstance(v, yaml.ScalarNode)
        ]
        name = names[0] if names else ""
        found.append((str(kind.value) if isinstance(kind, yaml.ScalarNode) else "", name, node.start_mark.line + 1))
    return found
