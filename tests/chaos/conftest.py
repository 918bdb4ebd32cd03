"""Fixtures for the chaos extension's unit tests: a fake cluster and an isolated undo log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aideon_resilience.chaos import k8s, undo
from tests.chaos.fakekube import FakeKube


@pytest.fixture
def undo_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "undo"
    monkeypatch.setenv("AIDEON_UNDO_DIR", str(root))
    monkeypatch.delenv("AIDEON_CHAOS_RUN_ID", raising=False)
    undo.reset()
    yield root
    undo.reset()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, undo_dir: Path) -> FakeKube:
    """Six nodes over three zones; the current context is the allow-listed local one."""
    kube = FakeKube().cluster_of(6)
    monkeypatch.setenv("KUBERNETES_CONTEXT", "kwok-aideon")
    for var in ("AIDEON_CHAOS_ALLOWED_CONTEXTS", "AIDEON_CHAOS_MAX_POD_SHARE", "AIDEON_CHAOS_MAX_NODE_SHARE"):
        monkeypatch.delenv(var, raising=False)

    def clients(secrets: dict[str, Any] | None = None) -> Any:
        return kube.clients()

    def clients_for(kubeconfig: str | None, context: str | None) -> Any:
        return kube.clients()

    monkeypatch.setattr(k8s, "clients", clients)
    monkeypatch.setattr(k8s, "clients_for", clients_for)
    return kube
