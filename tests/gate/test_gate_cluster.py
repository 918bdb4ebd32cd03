"""The gate end to end on the local cluster: it passes on `local` and fails, for the reason it
names, on each expected-failure variant (manifests/variants/)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from aideon_resilience.adapters.dataplane import dataplane_state
from aideon_resilience.adapters.kube.client import api_client_for
from aideon_resilience.adapters.localcluster import LocalCluster
from aideon_resilience.cli.main import main
from aideon_resilience.core.evidence.journal import read_journal
from aideon_resilience.core.evidence.loadstats import AGGREGATED, read_windows
from aideon_resilience.core.report.rundir import REPORT_FILES
from tests.adapters.localcluster.kubehelpers import wait_for
from tests.conftest import REPO, KubeCluster
from tests.standins import standin_state

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1500)]
VARIANTS = REPO / "manifests" / "variants"


def _gate(out: Path, *args: str) -> tuple[int, dict[str, object], Path]:
    code = main(["gate", "--env", "local", "--out", str(out), *args])
    runs = sorted(p for p in out.iterdir() if p.is_dir())
    assert runs, f"the gate wrote no run directory (exit {code})"
    run = runs[-1]
    verdict = json.loads((run / "verdict.json").read_text())
    return code, verdict, run


def _by_id(verdict: dict[str, object]) -> dict[str, dict[str, object]]:
    return {str(s["id"]): s for s in verdict["slos"]}  # type: ignore[index, union-attr]


def _respread_gateway(kube_cluster: KubeCluster) -> None:
    """Start a variant from an evenly spread gateway: the previous run's HPA scale-down is not
    zone-aware and can leave 3 replicas in 2 zones, which a drain that evicts nothing (the
    variant's point) would then be blamed for. Scaled to zero and back, the scheduler spreads
    the 3 new pods over the 3 zones."""
    api = api_client_for(kube_cluster.kubeconfig, kube_cluster.context)
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    ns, name, selector = "aideon-backend", "api-gateway", "app.kubernetes.io/name=api-gateway"
    apps.patch_namespaced_deployment_scale(name, ns, {"spec": {"replicas": 0}})
    wait_for("no gateway pod", lambda: not core.list_namespaced_pod(ns, label_selector=selector).items, timeout=120)
    apps.patch_namespaced_deployment_scale(name, ns, {"spec": {"replicas": 3}})
    wait_for("3 ready gateway replicas", lambda: apps.read_namespaced_deployment(name, ns).status.ready_replicas == 3,
             timeout=180)
    zones = {core.read_node(p.spec.node_name).metadata.labels["topology.kubernetes.io/zone"]
             for p in core.list_namespaced_pod(ns, label_selector=selector).items}
    assert len(zones) == 3, f"the gateway did not spread over 3 zones before the variant: {sorted(zones)}"


@pytest.fixture()
def restore_local(kube_cluster: KubeCluster, tmp_path: Path) -> Iterator[None]:
    _respread_gateway(kube_cluster)
    yield
    from aideon_resilience.adapters.dataplane import ensure_deployed

    ensure_deployed(REPO / "manifests", REPO / "manifests" / "environments" / "local")


def test_gate_passes_on_the_local_environment(kube_cluster: KubeCluster, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    code, verdict, run = _gate(tmp_path)
    statuses = {k: v["status"] for k, v in _by_id(verdict).items()}
    assert code == 0, statuses
    assert verdict["verdict"] == "pass"
    assert set(statuses) >= {"client-errors", "hpa-scale-out", "pdb-held", "anti-affinity-spread",
                             "outlier-ejection", "pod-kill-recovery", "rolling-update", "zone-outage",
                             "stateful-recovery", "canary-outlier"}
    for name in REPORT_FILES:
        assert (run / name).is_file(), name
    assert (run / "timeline.jsonl").stat().st_size > 0 and (run / "locust-windows.jsonl").stat().st_size > 0
    # the load ran through a loopback master and the local gate.yaml's 2 workers, merged by the master
    agg = [w for w in read_windows(run / "locust-windows.jsonl") if w.endpoint == AGGREGATED]
    assert {w.workers for w in agg} == {2}
    assert sum(w.merged for w in agg) >= len(agg) - 2  # only the last windows may miss a final report
    journals = sorted((run / "journals").glob("*.json"))
    assert sorted(p.stem for p in journals) == sorted(
        ["pod-kill", "rolling-update", "node-drain", "gateway-outlier", "canary-failure", "node-loss",
         "zone-outage", "stateful-node-loss", "load-surge"])
    for journal in journals:  # read from the journal: the exit code of `chaos run` is not trusted
        summary = read_journal(journal)
        assert summary.held, (journal.stem, summary.status, summary.deviated, summary.failed_activities)
    # the replacement of the lost store pod was judged on the volume its claim is bound to, too
    stateful = _by_id(verdict)["stateful-recovery"]
    assert re.search(r"with data-vector-db-\d \(volume [\w-]+\)", " ".join(stateful["evidence"]["items"])), stateful
    # every platform process runs with its pod's aideon-config, generated by the local overlay
    state = dataplane_state(LocalCluster().paths)
    assert state is not None, "the data plane stopped with the gate"
    ready = [s for s in state.standins if s["ready"] and not s["terminating"]]
    assert len({s["service"] for s in ready}) == 18, sorted({s["service"] for s in ready})
    for standin in ready:
        config = standin_state(standin["port"])
        assert (config["environment"], config["log_level"], config["feature_flags"]) == ("local", "info", []), standin


# Variants whose SLO fails on its own evidence long before the experiment's bound, run with a
# shorter one (the local gate above runs the full bounds): a drain the budget refuses fails the
# `pdb` SLO when it times out, whenever that is; an HPA whose maximum leaves no room fails the
# `hpa` SLO whatever the surge did.
QUICKER = {
    "pdb-blocks-drains": {"AIDEON_CHAOS_DRAIN_TIMEOUT": "45"},
    "hpa-max-equals-min": {"AIDEON_SURGE_SECONDS": "45"},
}


@pytest.mark.parametrize(
    ("variant", "experiment", "slo", "reason"),
    [
        ("pdb-blocks-drains", "node-drain", "pdb-held", "drain"),
        ("hpa-max-equals-min", "load-surge", "hpa-scale-out", "max"),
        ("no-outlier-detection", "gateway-outlier", "outlier-ejection",
         ("error ratio above 0.05 until the backend was healed", "no ejection observed")),
        ("outlier-cap-too-low", "gateway-outlier", "outlier-ejection",
         ("until the backend was healed", "refused by maxejectionpercent")),
        ("rollout-recreate", "rolling-update", "rolling-update", "during the rollout"),
        ("slow-zone-failover", "zone-outage", "zone-outage", "never back to its minimum"),
        ("vector-db-two-replicas", "stateful-node-loss", "stateful-recovery", "below its majority"),
        # last: its replicas packed into one zone stay there after the local overlay is restored
        ("no-anti-affinity", "pod-kill", "anti-affinity-spread", "replicas on node"),
    ],
)
def test_each_broken_variant_fails_its_slo_for_the_reason_it_names(
    kube_cluster: KubeCluster, restore_local: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    variant: str, experiment: str, slo: str, reason: str | tuple[str, ...],
) -> None:
    monkeypatch.chdir(REPO)
    for name, value in QUICKER.get(variant, {}).items():
        monkeypatch.setenv(name, value)
    code, verdict, _ = _gate(tmp_path, "--overlay", str(VARIANTS / variant), "--experiments", experiment)
    results = _by_id(verdict)
    assert code == 1 and verdict["verdict"] == "fail", {k: v["status"] for k, v in results.items()}
    assert results[slo]["status"] == "fail"
    for part in (reason,) if isinstance(reason, str) else reason:
        assert part in str(results[slo]["message"]).lower(), results[slo]["message"]
    others = {"hpa", "pdb", "anti_affinity", "recovery", "outlier", "rollout", "zone_outage", "stateful"}
    others -= {results[slo]["family"]}
    collateral = [k for k, v in results.items() if v["family"] in others and v["status"] == "fail"]
    assert not collateral, f"{variant} also failed {collateral}"


def test_a_one_pod_canary_that_fails_fails_the_outlier_slo_naming_the_cap_and_its_subset(
    kube_cluster: KubeCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The canary-failure experiment with a one-pod canary whose pod fails. Ejecting the subset's
    only host would take 100 % of its cluster, over the gateway's maxEjectionPercent of 50, and
    Envoy (from v1.31, without `always_eject_one_host`, which Istio does not set) then ejects
    nothing: the failing pod keeps the canary's 20 % of the requests until it is healed. Outlier
    detection cannot keep the client error ratio under 5 % here, and the verdict says why: the
    refused ejections and the 5xx of the canary's pool."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("AIDEON_CHAOS_CANARY_REPLICAS", "1")
    code, verdict, _ = _gate(tmp_path, "--experiments", "canary-failure")
    results = _by_id(verdict)
    canary = results["canary-outlier"]
    assert code == 1 and verdict["verdict"] == "fail", {k: v["status"] for k, v in results.items()}
    assert canary["status"] == "fail", canary
    message = str(canary["message"])
    assert "error ratio above 0.05 until the backend was healed" in message, message
    assert "refused by maxEjectionPercent" in message, message
    assert re.search(r"at the proxy: api-gateway\.v2 \d+/\d+ 5xx", message), message
    # the route and the canary are back as the overlay has them
    api = api_client_for(kube_cluster.kubeconfig, kube_cluster.context)
    vs = client.CustomObjectsApi(api).get_namespaced_custom_object(
        "networking.istio.io", "v1", "aideon-backend", "virtualservices", "api-gateway"
    )
    weights = {d["destination"].get("subset"): d.get("weight") for d in vs["spec"]["http"][0]["route"]}
    assert weights == {"v1": 100, "v2": 0}, weights
    names = [d.metadata.name for d in client.AppsV1Api(api).list_namespaced_deployment("aideon-backend").items]
    assert "api-gateway-v2" not in names
