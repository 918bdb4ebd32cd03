"""The control plane at an environment's declared shape under modelled load (rehearsal groundwork).

    .venv/bin/python benchmarks/shape_rehearsal.py [--env production] [--users N] [--ramp S] [--hold S]

Not run by benchmarks/run.py (it takes about 12 minutes at the production shape). Uses a cluster
of its own (`aideon-rehearsal`) with the environment's nodes, zones and allocatable, applies the
environment's overlay server-side unchanged, gives the no-provisioner storage classes simulated
local volumes, then ramps modelled users (core.loadmodel: the plan's traffic model, CPU per ready
pod through KWOK's usage annotation) and records, every 15 s, each HPA's replicas against what
the plan needs at that many users. Prints one JSON line; removes the cluster at the end unless
--keep. Figures: time from the ramp's end until every HPA carries the plan's replicas (or how far
each fell short), pods reached, control-plane memory, the load driver's CPU share of one core.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import psutil
from kubernetes import client

from aideon_resilience.adapters.dataplane.deploy import deploy_overlay, render_all
from aideon_resilience.adapters.kube.modelled_cpu import ModelledCpu
from aideon_resilience.adapters.kube.volume_provisioner import BackgroundProvisioner, LocalVolumeProvisioner
from aideon_resilience.adapters.kube.volumes import (
    dynamic_provisioners,
    no_provisioner_classes,
    provision_local_volumes,
)
from aideon_resilience.adapters.localcluster import ClusterPaths, LocalCluster
from aideon_resilience.adapters.localcluster.nodes import NodeSize
from aideon_resilience.core.config.shape import load_cluster_shape
from aideon_resilience.core.plan.loadmodel import UserSchedule, hpa_desired, pod_cpu_millis, service_rps

REPO = Path(__file__).resolve().parent.parent
TARGET_UTILIZATION = 0.7


def _hpas(api: client.ApiClient) -> dict[str, tuple[int, int, int]]:
    return {
        h.metadata.name: (h.status.current_replicas or 0, h.spec.max_replicas, h.spec.min_replicas or 1)
        for h in client.AutoscalingV2Api(api).list_horizontal_pod_autoscaler_for_all_namespaces().items
    }


def _requests(api: client.ApiClient) -> dict[str, float]:
    """CPU request (millicores) per service from the Deployments and StatefulSets."""
    out: dict[str, float] = {}
    apps = client.AppsV1Api(api)
    for wl in [*apps.list_deployment_for_all_namespaces().items, *apps.list_stateful_set_for_all_namespaces().items]:
        cpu = wl.spec.template.spec.containers[0].resources.requests.get("cpu", "0")
        out[wl.metadata.name] = float(cpu[:-1]) if cpu.endswith("m") else float(cpu) * 1000
    return out


def _needed(users: int, requests: dict[str, float]) -> dict[str, int]:
    """Replicas the HPA formula settles at for `users` (the plan's figure within the HPA tolerance)."""
    out: dict[str, int] = {}
    for service, rps in service_rps(users).items():
        if rps <= 0 or service not in requests:
            continue
        replicas = 1
        for _ in range(200):
            want = hpa_desired(replicas, pod_cpu_millis(service, rps, replicas), requests[service], TARGET_UTILIZATION)
            if want == replicas:
                break
            replicas = want
        out[service] = replicas
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--env", default="production")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--ramp", type=float, default=240)
    parser.add_argument("--hold", type=float, default=360)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    env_dir = REPO / "manifests" / "environments" / args.env
    shape = load_cluster_shape(env_dir)
    a = shape.node_allocatable
    cluster = LocalCluster(ClusterPaths(name="aideon-rehearsal"))
    t0 = time.monotonic()
    cluster.up(nodes=shape.nodes, zones=shape.zone_count, timeout=600,
               node_size=NodeSize.of(a.cpu_millis, a.memory_mib, a.pods))
    up_s = time.monotonic() - t0
    try:
        api = cluster.api_client()
        objects = render_all(REPO / "manifests", env_dir)[0]
        provision_local_volumes(api, classes=no_provisioner_classes(objects))
        # the overlay's CSI classes: the local provisioner stands in for the driver (as `rehearse` does)
        volumes = BackgroundProvisioner(LocalVolumeProvisioner(
            client.CoreV1Api(api), client.StorageV1Api(api), serves=dynamic_provisioners(objects))).start()
        t1 = time.monotonic()
        deploy_overlay(REPO / "manifests", env_dir, str(cluster.paths.kubeconfig), cluster.paths.context, 600)
        deploy_s = time.monotonic() - t1
        requests = _requests(api)
        needed = _needed(args.users, requests)
        schedule = UserSchedule(args.users, args.ramp, args.hold, args.users, 0)
        modelled = ModelledCpu(api)
        modelled.start()
        me = psutil.Process()
        cpu0 = sum(me.cpu_times()[:2])
        start = time.monotonic()
        reached_at: float | None = None
        short: dict[str, tuple[int, int]] = {}
        samples = []
        while (t := time.monotonic() - start) < schedule.duration_s:
            modelled.apply(schedule.users_at(t))
            hpas = _hpas(api)
            short = {s: (hpas[s][0], n) for s, n in needed.items() if s in hpas and hpas[s][0] < min(n, hpas[s][1])}
            if t >= args.ramp and not short and reached_at is None:
                reached_at = t - args.ramp
            if int(t) % 15 < 5:
                ready = sum(modelled.ready_pods().values())
                samples.append({"t": round(t), "users": schedule.users_at(t), "ready_pods": ready})
            time.sleep(5)
        driver_cpu = sum(me.cpu_times()[:2]) - cpu0
        elapsed = time.monotonic() - start
        modelled.stop()
        pods = len(client.CoreV1Api(api).list_pod_for_all_namespaces().items)
        rss = {c.name: psutil.Process(c.pid).memory_info().rss / 2**20
               for c in cluster.status().components if c.pid and c.running}
        print(json.dumps({
            "benchmark": "shape_rehearsal", "env": args.env, "nodes": shape.nodes, "users_modelled": args.users,
            "up_s": round(up_s), "deploy_s": round(deploy_s), "pods_at_end": pods,
            "plan_replicas_reached_s_after_ramp": None if reached_at is None else round(reached_at),
            "short_at_end": {s: {"replicas": r, "needed": n} for s, (r, n) in short.items()},
            "control_plane_rss_mib": round(sum(rss.values())),
            "driver_cpu_share_of_one_core": round(driver_cpu / elapsed, 3),
            "patches": modelled.patches, "samples": samples,
        }), flush=True)
    finally:
        if "volumes" in locals():
            volumes.stop()
        if not args.keep:
            cluster.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
