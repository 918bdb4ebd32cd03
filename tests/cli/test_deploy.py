"""`aideon-resilience deploy`: usage errors change nothing; an overlay is applied server-side and waited for."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kubernetes import client

from aideon_resilience.adapters.localcluster import LocalCluster
from aideon_resilience.cli.main import main
from tests.conftest import KubeCluster


def _overlay(root: Path, env: str, body: str, resources: dict[str, str]) -> Path:
    d = root / "environments" / env
    d.mkdir(parents=True)
    (d / "kustomization.yaml").write_text(body)
    for name, text in resources.items():
        (d / name).write_text(text)
    return d


def test_missing_manifests_directory_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    assert main(["deploy", "--env", "local", "--manifests", str(missing)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"aideon-resilience: {missing}: --manifests: not a directory"]


def test_unknown_environment_names_the_known_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _overlay(tmp_path, "staging", "resources: []\n", {})
    assert main(["deploy", "--env", "prod", "--manifests", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--env: no overlay" in err and "known: staging" in err


def test_context_is_refused_for_the_local_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _overlay(tmp_path, "local", "resources: []\n", {})
    assert main(["deploy", "--env", "local", "--manifests", str(tmp_path), "--context", "x"]) == 2
    assert "--context: not used with --env local" in capsys.readouterr().err


def test_broken_overlay_is_refused_before_anything_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _overlay(tmp_path, "local", "resources:\n- missing.yaml\n", {})
    assert main(["deploy", "--env", "local", "--manifests", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"aideon-resilience: {d}: kustomize build failed")


@pytest.mark.cluster
def test_overlay_is_applied_server_side_and_rolled_out(
    kube_cluster: KubeCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = f"deploy-{uuid.uuid4().hex[:6]}"
    deployment = f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: app, image: registry.aideon.local/test/app:1}}]
"""
    namespace = f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"
    _overlay(
        tmp_path,
        "ci",
        "resources:\n- namespace.yaml\n- deployment.yaml\n",
        {"namespace.yaml": namespace, "deployment.yaml": deployment},
    )
    core = LocalCluster().core()
    apps = client.AppsV1Api(core.api_client)
    try:
        code = main(["deploy", "--env", "ci", "--manifests", str(tmp_path), "--context", kube_cluster.context])
        assert code == 0, capsys.readouterr().err
        dep = apps.read_namespaced_deployment("web", ns)
        assert dep.status.ready_replicas == 2
        managers = {m.manager: m.operation for m in dep.metadata.managed_fields or []}
        assert managers.get("aideon-resilience") == "Apply"  # server-side apply
    finally:
        core.delete_namespace(ns, grace_period_seconds=0)
