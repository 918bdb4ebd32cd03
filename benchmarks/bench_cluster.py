"""Local cluster: warm `cluster up` time and the running control plane's memory.

    .venv/bin/python benchmarks/bench_cluster.py [--cold-build]

Uses a cluster of its own (`aideon-bench`, 6 nodes over 3 zones) with the cached binaries, and
removes it at the end. Figures, each against a baseline measured in the same run:

- warm `up` (checks, kwokctl, 6 nodes Ready, metrics.k8s.io available) against the bare
  `kwokctl create cluster` of the same configuration (the baseline: what kwokctl alone costs);
  goal: `up` at most 60 s.
- memory (RSS) of the six control-plane processes, idle with 6 nodes, against etcd alone.
- with --cold-build: the cold build of every binary (fresh GOCACHE, module cache kept) against
  the cold build of kwokctl alone. Takes tens of minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

from aideon_resilience.adapters.localcluster import ClusterPaths, LocalCluster
from aideon_resilience.adapters.localcluster.binaries import BUILD_SCRIPT
from aideon_resilience.adapters.localcluster.kwokconfig import kwokctl_configuration


def _rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def warm_up_and_memory() -> dict[str, object]:
    cluster = LocalCluster(ClusterPaths(name="aideon-bench"))
    cluster.down()
    try:
        # baseline: kwokctl alone, same configuration, no nodes, no waiting for metrics
        cluster.paths.config_file.write_text(yaml.safe_dump(kwokctl_configuration(cluster.paths)), encoding="utf-8")
        t0 = time.monotonic()
        code, _ = cluster.kwokctl("create", "cluster", "--config", str(cluster.paths.config_file), "--wait", "120s")
        kwokctl_s = time.monotonic() - t0
        assert code == 0, "kwokctl create cluster failed"
        cluster.down()
        t0 = time.monotonic()
        st = cluster.up(nodes=6, zones=3)
        up_s = time.monotonic() - t0
        time.sleep(20)  # settle: a metrics scrape, leases, HPA sync loops
        rss = {c.name: _rss_mib(c.pid) for c in cluster.status().components if c.pid and c.running}
        assert st.ready_nodes == 6
    finally:
        cluster.down()
    total = sum(rss.values())
    return {
        "benchmark": "cluster_up_and_memory",
        "warm_up_s": round(up_s, 1),
        "kwokctl_create_s": round(kwokctl_s, 1),
        "up_vs_kwokctl_ratio": round(up_s / kwokctl_s, 2),
        "goal_up_s": 60,
        "control_plane_rss_mib": round(total),
        "rss_mib": {k: round(v) for k, v in sorted(rss.items())},
        "rss_vs_etcd_ratio": round(total / rss["etcd"], 1),
    }


def cold_build() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GOCACHE=str(Path(tmp) / "gocache"), AIDEON_CACHE_DIR=str(Path(tmp) / "cache"))
        t0 = time.monotonic()
        subprocess.run(["bash", "-c", f". {BUILD_SCRIPT.parent}/versions.env && mkdir -p {tmp}/k && cd {tmp}/k && "
                        "printf 'module k\\ngo 1.26\\n' > go.mod && go get sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION "
                        "&& CGO_ENABLED=0 go build -o kwokctl sigs.k8s.io/kwok/cmd/kwokctl"],
                       env=env, check=True, capture_output=True)
        base_s = time.monotonic() - t0
        env["GOCACHE"] = str(Path(tmp) / "gocache2")
        t0 = time.monotonic()
        subprocess.run(["bash", str(BUILD_SCRIPT)], env=env, check=True, capture_output=True)
        full_s = time.monotonic() - t0
    return {"benchmark": "cold_build", "cold_build_s": round(full_s), "kwokctl_only_s": round(base_s),
            "ratio": round(full_s / base_s, 1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold-build", action="store_true")
    args = parser.parse_args()
    print(json.dumps(warm_up_and_memory()), flush=True)
    if args.cold_build:
        print(json.dumps(cold_build()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
