"""Render a kustomize directory (or read plain YAML files) into a list of Kubernetes objects.

kustomize is run through `kubectl kustomize`, using the kubectl built for the local cluster
when present and the one on PATH otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from aideon_resilience.core.files import mapping, parse, read_text
from aideon_resilience.errors import InfrastructureError, InputFileError
from aideon_resilience.settings import settings

KubeObject = dict[str, Any]


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
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
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


def build(path: Path) -> list[KubeObject]:
    """Objects of a kustomize directory, or of one YAML file (multi-document allowed)."""
    if not path.exists():
        raise InputFileError(path, "no such file or directory")
    if path.is_file():
        return _parse(read_text(path), path)
    kustomization = next((path / n for n in KUSTOMIZATION_NAMES if (path / n).is_file()), None)
    if kustomization is None:
        raise InputFileError(path, "not a kustomize directory (no kustomization.yaml)")
    mapping(parse(read_text(kustomization), kustomization, "yaml"), kustomization, "a kustomization (a mapping)")
    proc = subprocess.run(
        [kubectl_path(), "kustomize", str(path)], capture_output=True, text=True, check=False, timeout=120
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
