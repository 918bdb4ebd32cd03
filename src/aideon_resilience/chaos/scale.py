"""Undo step `scale_to_zero`: Deployments scaled to zero replicas (the in-cluster load generator).

The gate records this step before it applies the load generator (`gate.loadgen`), so its workers
stop also when the gate was interrupted or killed: `aideon-resilience rollback RUN_DIR` replays it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aideon_resilience.adapters.kube.apply import kubectl
from aideon_resilience.chaos import undo
from aideon_resilience.errors import InfrastructureError

SCALE_TO_ZERO = "scale_to_zero"


def scale_args(namespace: str, deployment: str, replicas: int) -> list[str]:
    return ["-n", namespace, "scale", f"deployment/{deployment}", f"--replicas={replicas}"]


@undo.register(SCALE_TO_ZERO, "namespace", "deployments")
def scale_to_zero(params: dict[str, Any], data: dict[str, Any]) -> None:
    kubeconfig = Path(params["kubeconfig"]) if params.get("kubeconfig") else None
    context = params.get("context") or None
    failed: list[str] = []
    for name in params["deployments"]:
        proc = kubectl(scale_args(str(params["namespace"]), str(name), 0), kubeconfig, context, timeout=60)
        if proc.returncode != 0 and "NotFound" not in proc.stderr:
            failed.append(f"{name}: {proc.stderr.strip()[:200]}")
    if failed:
        raise InfrastructureError("scaling to zero failed: " + "; ".join(failed))
