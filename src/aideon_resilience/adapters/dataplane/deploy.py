"""Apply a kustomize overlay server-side and wait for it; on the local cluster, start the data plane.

On the local cluster the data plane starts between the apply and the wait: it owns the readiness of
the platform's pods (`localcluster/kwokstages.py`), so no rollout completes without it.

Everything is rendered first (`kubectl kustomize`), so a broken overlay is refused before anything
changes. CRDs go first (the manifests' `crds/` directory and any CRD in the overlay) and are waited
for; then the overlay is applied server-side and every Deployment and StatefulSet is waited for
(`adapters.kube.apply`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aideon_resilience.adapters.dataplane.control import dataplane_state, start_dataplane
from aideon_resilience.adapters.dataplane.state import DataPlaneState
from aideon_resilience.adapters.kube.apply import apply_objects, default_kubeconfig, wait_ready
from aideon_resilience.adapters.kube.client import api_client_for
from aideon_resilience.adapters.kustomize import build
from aideon_resilience.adapters.localcluster import LocalCluster
from aideon_resilience.errors import ClusterError, InfrastructureError, InputFileError

GATEWAY_SERVICE = "api-gateway"

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


def deploy_overlay(
    manifests: Path,
    overlay: Path,
    kubeconfig: str | None,
    context: str | None,
    timeout: float = 300.0,
    progress: Progress = _noop,
    rendered: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None,
    before_wait: Callable[[], None] | None = None,
    replace_immutable: bool = False,
) -> list[dict[str, Any]]:
    """Apply CRDs then the overlay server-side and wait for rollouts; returns the overlay's objects.

    `rendered` = (overlay objects, CRD objects) when the caller has rendered them already;
    `replace_immutable`: on a cluster this tool made, re-create what changed an immutable field;
    `before_wait` runs between the apply and the wait (the local data plane, which makes the
    platform's pods Ready, starts there).
    """
    if rendered is None:
        rendered = render_all(manifests, overlay)
    docs, crd_docs = rendered
    config = Path(kubeconfig) if kubeconfig else default_kubeconfig()
    if crd_docs:
        progress(f"applying {len(crd_docs)} CRDs")
        apply_objects(crd_docs, config, context, source=str(manifests / "crds"))
    progress(f"applying {len(docs)} objects of {overlay} (server-side)")
    apply_objects(docs, config, context, source=str(overlay), replace_immutable=replace_immutable)
    if before_wait is not None:
        before_wait()
    progress("waiting for rollouts")
    wait_ready(api_client_for(config, context), docs, timeout)
    return docs


def render_all(manifests: Path, overlay: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(overlay objects, CRD objects of `manifests/crds`), rendered without touching a cluster."""
    docs = build(overlay)
    crd_dir = manifests / "crds"
    crds = build(crd_dir) if (crd_dir / "kustomization.yaml").is_file() else []
    return docs, crds


def ensure_deployed(manifests: Path, overlay: Path, progress: Progress = _noop, timeout: float = 300.0) -> str:
    """Deploy `overlay` to the local cluster (which must be up), start the data plane; the gateway URL."""
    if not (overlay / "kustomization.yaml").is_file():
        raise InputFileError(overlay, "not a kustomize directory (no kustomization.yaml)")
    cluster = LocalCluster()
    if not cluster.healthy():
        raise ClusterError("the local cluster is not up (run: aideon-resilience cluster up)")
    started: list[DataPlaneState] = []

    def start_plane() -> None:  # its pods are Ready only once their processes answer (kwokstages.py)
        progress("starting the local data plane")
        started.append(start_dataplane(cluster.paths, timeout=timeout))

    deploy_overlay(manifests, overlay, str(cluster.paths.kubeconfig), cluster.paths.context, timeout, progress,
                   before_wait=start_plane, replace_immutable=True)
    state = started[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = dataplane_state(cluster.paths)
        if st is None:
            raise InfrastructureError("the local data plane stopped (see its supervisor.log)")
        if any(s["service"] == GATEWAY_SERVICE and s["ready"] for s in st.standins):
            return state.gateway_url
        time.sleep(0.5)
    raise InfrastructureError("no api-gateway stand-in became ready behind the local gateway")
