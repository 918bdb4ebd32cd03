"""The kwokctl configuration of the local cluster: real control-plane binaries, loopback only.

Timing is tuned so that chaos is observable in minutes, not hours: a 20 s node Lease (KWOK
renews it every quarter of that, 5 s) and a 20 s node-monitor grace period (a lost node turns
NotReady within ~25 s), taint-based eviction after 30 s, and the HPA controller syncing every 5 s
with a 30 s downscale stabilisation window. KWOK's heartbeat factor is pinned to 1 so these
figures are used as is. A node's status is posted every 20 to 25 s by the heartbeat stage the
cluster is given (`kwokstages.py`): kwokctl's `nodeStatusUpdateFrequencyMilliseconds` only shapes
the default stages it makes when it is given none, so it is not set.
"""

from __future__ import annotations

from typing import Any

from aideon_resilience.adapters.localcluster.binaries import pinned_versions
from aideon_resilience.adapters.localcluster.paths import PACKAGE_DIR, ClusterPaths

LOOPBACK = "127.0.0.1"
STAGE_CRD = "Stage"  # KWOK takes its stages as API objects, made in order by `stage_objects.py`
NODE_LEASE_SECONDS = 20
NODE_MONITOR_PERIOD_MS = 2000
NODE_MONITOR_GRACE_MS = 20000
TOLERATION_SECONDS = 30
HPA_SYNC_PERIOD = "5s"
HPA_DOWNSCALE_STABILIZATION = "30s"
METRICS_SERVER_MANIFESTS = PACKAGE_DIR / "metrics-server"


def _args(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in pairs.items()]


def kwokctl_configuration(paths: ClusterPaths, apiserver_port: int = 0) -> dict[str, Any]:
    """A KwokctlConfiguration document for `kwokctl create cluster --config`."""
    return {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": _options(paths, apiserver_port),
        "componentsPatches": _component_patches(),
    }


def _options(paths: ClusterPaths, apiserver_port: int) -> dict[str, Any]:
    """kwokctl's options: the binary runtime with the binaries built into the cache, on loopback."""
    versions = pinned_versions()
    b = paths.bin
    options: dict[str, Any] = {
        "runtime": "binary",
        "kubeVersion": versions["KUBERNETES_VERSION"],
        "etcdVersion": versions["ETCD_VERSION"].removeprefix("v"),
        "kwokVersion": versions["KWOK_VERSION"],
        "metricsServerVersion": versions["METRICS_SERVER_VERSION"],
        "bindAddress": LOOPBACK,
        "kubeAuthorization": True,
        "kubeAdmission": True,
        "enableMetricsServer": True,
        "metricsServerManifests": [str(METRICS_SERVER_MANIFESTS)],
        "heartbeatFactor": 1,
        "nodeLeaseDurationSeconds": NODE_LEASE_SECONDS,
        "kubeControllerManagerNodeMonitorPeriodMilliseconds": NODE_MONITOR_PERIOD_MS,
        "kubeControllerManagerNodeMonitorGracePeriodMilliseconds": NODE_MONITOR_GRACE_MS,
        "kubeApiserverBinary": str(b / "kube-apiserver"),
        "kubeControllerManagerBinary": str(b / "kube-controller-manager"),
        "kubeSchedulerBinary": str(b / "kube-scheduler"),
        "kubectlBinary": str(b / "kubectl"),
        "etcdBinary": str(b / "etcd"),
        "kwokControllerBinary": str(b / "kwok"),
        "metricsServerBinary": str(b / "metrics-server"),
        "cacheDir": str(paths.kwok_workdir / "cache"),
        "disableQPSLimits": True,
        "enableCRDs": [STAGE_CRD],
    }
    if apiserver_port:
        options["kubeApiserverPort"] = apiserver_port
    return options


def _component_patches() -> list[dict[str, Any]]:
    """Flags of the control plane's components: tolerations, KWOK's node selection, HPA timing."""
    return [
        {
            "name": "kube-apiserver",
            "extraArgs": _args(
                {
                    "default-not-ready-toleration-seconds": str(TOLERATION_SECONDS),
                    "default-unreachable-toleration-seconds": str(TOLERATION_SECONDS),
                }
            ),
        },
        {
            # kwokctl's binary runtime starts kwok with --manage-all-nodes=true; later flags
            # win, so KWOK manages only annotated nodes (node loss takes the annotation away)
            # and reports the nodes' address as loopback, where its kubelet API listens.
            "name": "kwok-controller",
            "extraArgs": _args(
                {
                    "manage-all-nodes": "false",
                    "manage-nodes-with-annotation-selector": "kwok.x-k8s.io/node=fake",
                    "node-ip": LOOPBACK,
                }
            ),
        },
        {
            "name": "kube-controller-manager",
            "extraArgs": _args(
                {
                    "horizontal-pod-autoscaler-sync-period": HPA_SYNC_PERIOD,
                    "horizontal-pod-autoscaler-downscale-stabilization": HPA_DOWNSCALE_STABILIZATION,
                }
            ),
        },
    ]
