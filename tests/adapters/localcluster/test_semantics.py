"""What the harness relies on, proven against the real control plane of the local cluster."""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client

from aideon_resilience.adapters.localcluster import LocalCluster, make_node_unready, restore_node
from aideon_resilience.adapters.localcluster.kwokstages import HEARTBEAT_DELAY
from aideon_resilience.adapters.localcluster.nodes import (
    LEASE_NAMESPACE,
    LOST_HOLDER,
    make_node_unreachable,
    node_ready,
    wait_node_ready,
)
from tests.adapters.localcluster.kubehelpers import deployment, namespace, pods, running, wait_for
from tests.conftest import KubeCluster

pytestmark = pytest.mark.cluster


@pytest.fixture()
def core(kube_cluster: KubeCluster) -> client.CoreV1Api:
    return LocalCluster().core()


@pytest.fixture()
def apps(kube_cluster: KubeCluster) -> client.AppsV1Api:
    return client.AppsV1Api(LocalCluster().api_client())


def _held_past_a_heartbeat(core: client.CoreV1Api, node: str, lost_at: float, status: str) -> None:
    """The lost node is still `status` after KWOK's node heartbeat (queued before the loss) was due."""
    due = lost_at + HEARTBEAT_DELAY["jitterDurationMilliseconds"] / 1000 + 2
    while time.time() < due:
        assert node_ready(core, node) == status, f"node {node} turned {node_ready(core, node)} during its loss"
        time.sleep(1)
    assert node_ready(core, node) == status


def _evict(core: client.CoreV1Api, ns: str, pod: str) -> int:
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": ns}}
    try:
        core.create_namespaced_pod_eviction(pod, ns, body)
    except client.ApiException as exc:
        return int(exc.status)
    return 201


def test_eviction_is_refused_with_429_until_the_pdb_allows_a_disruption(
    core: client.CoreV1Api, apps: client.AppsV1Api
) -> None:
    policy = client.PolicyV1Api(core.api_client)
    with namespace(core, "t-pdb") as ns:
        apps.create_namespaced_deployment(ns, deployment("web", 2))
        wait_for("2 running pods", lambda: len(running(core, ns, "web")) == 2)
        policy.create_namespaced_pod_disruption_budget(
            ns,
            {"metadata": {"name": "web"}, "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}},
        )
        wait_for(
            "the PDB to observe 2 healthy pods",
            lambda: (s := policy.read_namespaced_pod_disruption_budget("web", ns).status) and s.current_healthy == 2,
        )
        victim = running(core, ns, "web")[0].metadata.name
        assert _evict(core, ns, victim) == 429
        assert core.read_namespaced_pod(victim, ns).metadata.deletion_timestamp is None

        policy.patch_namespaced_pod_disruption_budget("web", ns, {"spec": {"minAvailable": 1}})
        wait_for(
            "the PDB to allow one disruption",
            lambda: policy.read_namespaced_pod_disruption_budget("web", ns).status.disruptions_allowed == 1,
        )
        assert _evict(core, ns, victim) == 201


def test_required_anti_affinity_on_two_nodes_leaves_exactly_one_of_three_pending(
    core: client.CoreV1Api, apps: client.AppsV1Api
) -> None:
    two = sorted(n.metadata.name for n in core.list_node().items)[:2]
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": two}]}
                ]
            }
        },
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "spread"}}, "topologyKey": "kubernetes.io/hostname"}
            ]
        },
    }
    with namespace(core, "t-aff") as ns:
        apps.create_namespaced_deployment(ns, deployment("spread", 3, affinity=affinity))
        wait_for("2 running pods", lambda: len(running(core, ns, "spread")) == 2)
        pending = wait_for(
            "a pending pod the scheduler could not place",
            lambda: [
                p
                for p in pods(core, ns, "spread")
                if p.status.phase == "Pending"
                and any(c.type == "PodScheduled" and c.status == "False" for c in (p.status.conditions or []))
            ],
        )
        time.sleep(3)  # let the scheduler retry: the outcome must stay the same
        assert len(running(core, ns, "spread")) == 2
        assert len([p for p in pods(core, ns, "spread") if p.status.phase == "Pending"]) == 1
        assert {p.spec.node_name for p in running(core, ns, "spread")} == set(two)
        assert pending[0].spec.node_name is None


def test_hpa_scales_up_on_reported_cpu_and_stays_within_bounds(
    core: client.CoreV1Api, apps: client.AppsV1Api
) -> None:
    autoscaling = client.AutoscalingV2Api(core.api_client)
    with namespace(core, "t-hpa") as ns:
        apps.create_namespaced_deployment(ns, deployment("busy", 1, cpu="100m"))
        wait_for("1 running pod", lambda: len(running(core, ns, "busy")) == 1)
        autoscaling.create_namespaced_horizontal_pod_autoscaler(
            ns,
            {
                "metadata": {"name": "busy"},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "busy"},
                    "minReplicas": 1,
                    "maxReplicas": 3,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                        }
                    ],
                },
            },
        )
        first = running(core, ns, "busy")[0].metadata.name
        # KWOK reports a pod's CPU from this annotation; 300m against a 100m request is 300%.
        core.patch_namespaced_pod(first, ns, {"metadata": {"annotations": {"kwok.x-k8s.io/usage-cpu": "300m"}}})
        seen: list[int] = []

        def scaled() -> bool:
            hpa = autoscaling.read_namespaced_horizontal_pod_autoscaler("busy", ns)
            seen.append(apps.read_namespaced_deployment("busy", ns).spec.replicas)
            seen.append(hpa.status.desired_replicas or 0)
            return bool(hpa.status.current_replicas == 3)

        wait_for("the HPA to scale busy to its maximum of 3", scaled, timeout=150, interval=2)
        for _ in range(5):
            time.sleep(2)
            scaled()
        assert max(seen) == 3, f"replicas went above the HPA maximum: {seen}"


def test_deleted_node_pods_are_recreated_elsewhere(core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    with namespace(core, "t-del") as ns:
        apps.create_namespaced_deployment(ns, deployment("keep", 3))
        wait_for("3 running pods", lambda: len(running(core, ns, "keep")) == 3)
        victim_node = running(core, ns, "keep")[0].spec.node_name
        try:
            core.delete_node(victim_node)
            wait_for(
                "3 running pods, none on the deleted node",
                lambda: len(r := running(core, ns, "keep")) == 3 and all(p.spec.node_name != victim_node for p in r),
                timeout=150,
                interval=2,
            )
        finally:
            LocalCluster().up(nodes=6, zones=3)  # recreates the node
        assert victim_node in {n.metadata.name for n in core.list_node().items}


def test_notready_node_pods_are_evicted_by_taint(core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    with namespace(core, "t-nr") as ns:
        apps.create_namespaced_deployment(ns, deployment("move", 3))
        wait_for("3 running pods", lambda: len(running(core, ns, "move")) == 3)
        victim_node = running(core, ns, "move")[0].spec.node_name
        try:
            lost = make_node_unready(core, victim_node)
            wait_for(
                "the not-ready NoExecute taint",
                lambda: any(
                    t.key == "node.kubernetes.io/not-ready" and t.effect == "NoExecute"
                    for t in (core.read_node(victim_node).spec.taints or [])
                ),
                timeout=60,
            )
            wait_for(
                "3 running pods away from the NotReady node",
                lambda: len(r := running(core, ns, "move")) == 3 and all(p.spec.node_name != victim_node for p in r),
                timeout=120,
                interval=2,
            )
            _held_past_a_heartbeat(core, victim_node, lost["at"], "False")
        finally:
            restore_node(core, victim_node)
        wait_node_ready(core, victim_node, "True", timeout=60)


def test_an_unreachable_node_turns_unknown_is_tainted_keeps_its_pods_and_comes_back(core: client.CoreV1Api) -> None:
    """No status heartbeat and no lease renewal: the node-lifecycle controller marks it Unknown after
    its grace period (20 s here) and taints it unreachable, and nothing confirms the deletion of a
    pod on it (KWOK leaves the node's pods alone, stage_objects.py); restored, KWOK renews its
    Lease again and the deletion completes."""
    victim = sorted(n.metadata.name for n in core.list_node().items)[-1]
    coordination = client.CoordinationV1Api(core.api_client)
    with namespace(core, "t-unr") as ns:
        core.create_namespaced_pod(ns, {"metadata": {"name": "stranded"},
                                        "spec": {"nodeName": victim, "containers": [{"name": "c", "image": "x"}]}})
        wait_for("the pod running on the victim", lambda: core.read_namespaced_pod("stranded", ns).status.phase
                 == "Running")  # fmt: skip
        try:
            lost = make_node_unreachable(core, victim)
            waited = wait_node_ready(core, victim, "Unknown", timeout=60)
            assert waited < 60
            wait_for(
                "the unreachable NoExecute taint",
                lambda: any(t.key == "node.kubernetes.io/unreachable" and t.effect == "NoExecute"
                            for t in (core.read_node(victim).spec.taints or [])),
                timeout=30,
            )  # fmt: skip
            renewed = coordination.read_namespaced_lease(victim, LEASE_NAMESPACE).spec.renew_time
            core.delete_namespaced_pod("stranded", ns)
            time.sleep(6)  # more than KWOK's renew interval (a quarter of the 20 s lease)
            assert coordination.read_namespaced_lease(victim, LEASE_NAMESPACE).spec.renew_time == renewed
            stranded = core.read_namespaced_pod("stranded", ns)  # still there: nobody confirmed the deletion
            assert stranded.metadata.deletion_timestamp is not None
            _held_past_a_heartbeat(core, victim, lost["at"], "Unknown")
        finally:
            restore_node(core, victim)
        wait_node_ready(core, victim, "True", timeout=60)

        def gone() -> bool:
            try:
                core.read_namespaced_pod("stranded", ns)
            except client.ApiException as exc:
                return exc.status == 404
            return False

        wait_for("the pod's deletion confirmed once the node is back", gone, timeout=60)

    def kwok_holds_it() -> bool:
        try:
            return coordination.read_namespaced_lease(victim, LEASE_NAMESPACE).spec.holder_identity != LOST_HOLDER
        except client.ApiException:
            return False  # deleted, not yet recreated

    wait_for("KWOK's own lease of the node again", kwok_holds_it, timeout=30)


def test_restricted_namespace_rejects_a_privileged_pod(core: client.CoreV1Api) -> None:
    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    with namespace(core, "t-psa", labels) as ns:
        pod = {
            "metadata": {"name": "priv"},
            "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": True}}]},
        }
        with pytest.raises(client.ApiException) as err:
            core.create_namespaced_pod(ns, pod)
        assert err.value.status == 403
        message = json.loads(err.value.body)["message"]
        assert 'violates PodSecurity "restricted:latest"' in message
        assert "privileged" in message
