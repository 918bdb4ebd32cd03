"""manifests/loadgen: builds, validates, is Pod Security restricted compliant, sized from capacity.json."""

from __future__ import annotations

import math
import shutil
from typing import Any

import pytest

from aideon_resilience.core.plan.capacity import load_capacity

from .conftest import REPO

LOADGEN = REPO / "manifests" / "loadgen"


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not on PATH")
    from aideon_resilience.adapters.kustomize import build

    return build(LOADGEN)


def _by_name(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_objects_validate_against_the_schema(objects: list[dict[str, Any]]) -> None:
    import kubernetes_validate

    kinds = sorted(o["kind"] for o in objects)
    assert kinds == ["ConfigMap", "Deployment", "Deployment", "Namespace", "NetworkPolicy", "Service", "ServiceAccount"]
    for obj in objects:
        kubernetes_validate.validate(obj, "1.34.0", strict=True)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "aideon-loadgen"


def test_namespace_enforces_restricted_and_pods_comply(objects: list[dict[str, Any]]) -> None:
    ns = _by_name(objects, "Namespace", "aideon-loadgen")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for name in ("aideon-locust-master", "aideon-locust-worker"):
        pod = _by_name(objects, "Deployment", name)["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
            assert "readinessProbe" in c and c["resources"]["requests"]["cpu"]
            assert not any("--processes" in a for a in c.get("args", []))


def _mib(q: str) -> float:
    units = {"Mi": 1, "Gi": 1024}
    return float(q[:-2]) * units[q[-2:]]


def test_worker_requests_follow_the_measured_capacity(objects: list[dict[str, Any]]) -> None:
    cap = load_capacity()
    worker = _by_name(objects, "Deployment", "aideon-locust-worker")["spec"]["template"]["spec"]["containers"][0]
    requests = worker["resources"]["requests"]
    assert requests["cpu"] == f"{cap.worker_cpu_millis}m"
    needed = math.ceil(cap.worker_base_memory_mib + cap.users_per_worker * cap.memory_per_user_kib / 1024)
    assert needed <= _mib(requests["memory"]) <= 1.5 * needed
    assert _mib(worker["resources"]["limits"]["memory"]) >= _mib(requests["memory"])


def test_master_and_workers_meet_on_the_service_port(objects: list[dict[str, Any]]) -> None:
    svc = _by_name(objects, "Service", "aideon-locust-master")
    assert {p["port"] for p in svc["spec"]["ports"]} == {5557, 8089}
    worker = _by_name(objects, "Deployment", "aideon-locust-worker")["spec"]["template"]["spec"]["containers"][0]
    assert "--master-host=aideon-locust-master" in worker["args"] and "--master-port=5557" in worker["args"]
