"""The local cluster's logic that needs no cluster: layout, configuration, binaries, input checks."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from aideon_resilience.adapters.localcluster import ClusterPaths, LocalCluster
from aideon_resilience.adapters.localcluster.binaries import check_binaries, ensure_binaries, pinned_versions
from aideon_resilience.adapters.localcluster.kwokconfig import kwokctl_configuration
from aideon_resilience.adapters.localcluster.nodes import node_layout, node_manifest, zone_names
from aideon_resilience.cli.main import main
from aideon_resilience.errors import BuildError, UsageError


def test_nodes_spread_round_robin_over_zones() -> None:
    layout = node_layout(6, 3)
    assert layout == [
        ("node-a1", "zone-a"), ("node-b1", "zone-b"), ("node-c1", "zone-c"),
        ("node-a2", "zone-a"), ("node-b2", "zone-b"), ("node-c2", "zone-c"),
    ]
    assert [z for _, z in node_layout(5, 2)].count("zone-a") == 3


@pytest.mark.parametrize(("nodes", "zones", "message"), [(0, 3, "--nodes must be at least 1"),
                                                          (3, 0, "--zones must be between 1 and 26")])
def test_bad_shape_is_a_usage_error(nodes: int, zones: int, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        node_layout(nodes, zones)


def test_fewer_nodes_than_zones_is_refused_before_anything_starts(tmp_path: Path) -> None:
    cluster = LocalCluster(ClusterPaths(name="never", root=tmp_path))
    with pytest.raises(UsageError, match=r"--nodes \(2\) must be at least --zones \(3\)"):
        cluster.up(nodes=2, zones=3)
    assert list(tmp_path.iterdir()) == []


def test_node_manifest_has_zone_hostname_loopback_address_and_realistic_allocatable() -> None:
    node = node_manifest("node-b1", "zone-b", 1)
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "node-b1"
    assert labels["topology.kubernetes.io/zone"] == "zone-b"
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert node["status"]["allocatable"] == {"cpu": "8", "memory": "32Gi", "pods": "110"}
    assert {"type": "InternalIP", "address": "127.0.0.1"} in node["status"]["addresses"]
    assert node["spec"]["podCIDR"].startswith("10.")
    assert zone_names(3) == ["zone-a", "zone-b", "zone-c"]


def test_kwokctl_configuration_binds_loopback_uses_local_binaries_and_fast_heartbeats(tmp_path: Path) -> None:
    paths = ClusterPaths(name="x", root=tmp_path)
    conf = kwokctl_configuration(paths, apiserver_port=31000)
    opts = conf["options"]
    assert opts["bindAddress"] == "127.0.0.1"
    assert opts["runtime"] == "binary"
    assert opts["kubeApiserverPort"] == 31000
    assert opts["heartbeatFactor"] == 1
    assert opts["enableCRDs"] == ["Stage"]  # stages are API objects, made in order (stage_objects.py)
    # a lost node must turn NotReady within 60 s: lease + grace period well below that
    grace_s = opts["kubeControllerManagerNodeMonitorGracePeriodMilliseconds"] / 1000
    assert opts["nodeLeaseDurationSeconds"] + grace_s < 60
    for key in ("kubeApiserverBinary", "etcdBinary", "kwokControllerBinary", "metricsServerBinary", "kubectlBinary"):
        assert opts[key].startswith(str(tmp_path / "bin")), key
    # nothing is downloaded: the metrics-server manifests are a local kustomize directory
    assert all(not m.startswith("http") for m in opts["metricsServerManifests"])
    assert Path(opts["metricsServerManifests"][0], "kustomization.yaml").is_file()
    kwok = next(p for p in conf["componentsPatches"] if p["name"] == "kwok-controller")
    assert {"key": "manage-all-nodes", "value": "false"} in kwok["extraArgs"]
    assert opts["kubeVersion"] == pinned_versions()["KUBERNETES_VERSION"]


def test_pinned_versions_meet_the_design() -> None:
    v = pinned_versions()
    assert int(v["KUBERNETES_VERSION"].split(".")[1]) >= 34
    assert v["ETCD_VERSION"].startswith("v3.6.")
    assert v["KWOK_VERSION"].startswith("v0.8.")


def _fake_binary(path: Path, version_ok: bool) -> None:
    path.write_text("#!/bin/sh\nexit 0\n" if version_ok else "\x7fELF garbage")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_corrupt_or_unstamped_binaries_are_reported(tmp_path: Path) -> None:
    paths = ClusterPaths(name="x", root=tmp_path)
    paths.bin.mkdir(parents=True)
    versions = pinned_versions()
    _fake_binary(paths.bin / "etcd", version_ok=False)
    (paths.bin / ".etcd.version").write_text(versions["ETCD_VERSION"])
    _fake_binary(paths.bin / "kwok", version_ok=True)
    states = {s.name: s for s in check_binaries(paths)}
    assert states["etcd"].problem == "does not run (corrupt cache?)"
    assert states["kwok"].problem.startswith("not built at")
    assert states["kube-apiserver"].problem == "missing"
    assert states["kwok-stages"].problem == "missing"  # KWOK's default stages, which build.sh copies


def test_missing_go_toolchain_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no go here
    with pytest.raises(BuildError, match=r"^the Go toolchain is missing: install Go 1\.26 or newer") as err:
        ensure_binaries(ClusterPaths(name="x", root=tmp_path / "cache"))
    assert err.value.exit_code == 2
    assert "\n" not in str(err.value)


def test_cli_missing_go_exits_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AIDEON_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["cluster", "up"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "aideon-resilience: the Go toolchain is missing: install Go 1.26 or newer to build the local cluster's binaries"
    )
    assert not (tmp_path / "cache" / "kwok").exists()


def test_cli_unknown_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cluster", "up", "--nodez", "3"]) == 2
    assert "No such option: --nodez" in capsys.readouterr().err


def test_cli_status_without_cluster_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("AIDEON_CACHE_DIR", str(tmp_path))
    assert main(["cluster", "status"]) == 1
    assert "no local cluster" in capsys.readouterr().out
    assert main(["cluster", "env"]) == 3
    assert os.listdir(tmp_path) == []
