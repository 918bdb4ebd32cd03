"""Render a kustomize directory (or read plain YAML files) into a list of Kubernetes objects.

kustomize is run through `kubectl kustomize`, using the kubectl built for the local cluster
when present and the one on PATH otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from aideon_resilience.core.files import read_text
from aideon_resilience.errors import InfrastructureError, InputFileError
from aideon_resilience.settings import settings

KubeObject = dict[str, Any]


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
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputFileError(source, f"invalid YAML{where}") from None
    objects: list[KubeObject] = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise InputFileError(source, "a YAML document is not a mapping")
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            objects.extend(doc["items"])
        else:
            objects.append(doc)
    return objects


def build(path: Path) -> list[KubeObject]:
    """Objects of a kustomize directory, or of one YAML file (multi-document allowed)."""
    if not path.exists():
        raise InputFileError(path, "no such file or directory")
    if path.is_file():
        return _parse(read_text(path), path)
    if not any((path / n).is_file() for n in ("kustomization.yaml", "kustomization.yml", "Kustomization")):
        raise InputFileError(path, "not a kustomize directory (no kustomization.yaml)")
    proc = subprocess.run(
        [kubectl_path(), "kustomize", str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["kustomize failed"])[-1]
        raise InputFileError(path, f"kustomize build failed: {first}")
    return _parse(proc.stdout, path)
