"""Modelled CPU on the real control plane: the annotation KWOK reports becomes metrics.k8s.io."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from aideon_resilience.adapters.kube.client import api_client_for
from aideon_resilience.adapters.kube.modelled_cpu import USAGE_CPU_ANNOTATION, ModelledCpu
from aideon_resilience.core.plan.loadmodel import pod_cpu_millis, service_rps
from aideon_resilience.core.selectors import SERVICE_LABEL
from tests.adapters.localcluster.kubehelpers import deployment, namespace, running, wait_for
from tests.conftest import KubeCluster

pytestmark = [pytest.mark.cluster]
USERS = 2_000


def _millis(quantity: str) -> float:
    units = {"n": 1e-6, "u": 1e-3, "m": 1.0}
    if quantity[-1] in units:
        return float(quantity[:-1]) * units[quantity[-1]]
    return float(quantity) * 1000


def _service_deployment() -> dict[str, Any]:
    body = deployment("gw", 2)
    body["spec"]["template"]["metadata"]["labels"][SERVICE_LABEL] = "api-gateway"
    return body


def test_every_ready_pod_carries_its_share_and_metrics_server_reports_it(kube_cluster: KubeCluster) -> None:
    api = api_client_for(kube_cluster.kubeconfig, kube_cluster.context)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    with namespace(core, "t-modelled") as ns:
        apps.create_namespaced_deployment(ns, _service_deployment())
        wait_for("two running pods", lambda: len(running(core, ns, "gw")) == 2)
        modelled = ModelledCpu(api, namespaces=frozenset({ns}))
        modelled.start()
        try:
            wait_for("both pods ready in the model", lambda: modelled.ready_pods().get("api-gateway") == 2)
            assert modelled.apply(USERS) == 2
            assert modelled.apply(USERS) == 0  # unchanged load: no patch
            want = pod_cpu_millis("api-gateway", service_rps(USERS)["api-gateway"], 2)
            annotated = {p.metadata.annotations.get(USAGE_CPU_ANNOTATION) for p in running(core, ns, "gw")}
            assert annotated == {f"{want}m"}
            metrics = client.CustomObjectsApi(api)

            def reported() -> list[float] | None:
                items = metrics.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", ns, "pods")["items"]
                cpu = [_millis(c["usage"]["cpu"]) for i in items for c in i["containers"]]
                close = len(cpu) == 2 and all(abs(m - want) <= max(2.0, 0.1 * want) for m in cpu)
                return cpu if close else None

            wait_for(f"metrics.k8s.io to report {want}m per pod", reported, timeout=90, interval=3)
        finally:
            modelled.stop()
