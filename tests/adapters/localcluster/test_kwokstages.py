"""The stages that let the local data plane own its pods' readiness (kwokstages.py), without a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aideon_resilience.adapters.localcluster.kwokstages import (
    DEFAULT_STAGE_FILES,
    RUNTIME_STAGE,
    runtime_owned_pod_key,
    runtime_readiness_stages,
)
from aideon_resilience.errors import ClusterError

POD_READY_TEMPLATE = """{{ $now := Now }}
conditions:
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Ready
- lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: ContainersReady
containerStatuses:
{{ range .spec.containers }}
- name: {{ .name | Quote }}
  ready: true
{{ end }}
initContainerStatuses:
{{ range .spec.initContainers }}
- name: {{ .name | Quote }}
  ready: true
{{ end }}
phase: Running
"""


def _stage(name: str, template: str = "phase: Running\n") -> dict[str, object]:
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": "Pod"},
            "selector": {"matchExpressions": [{"key": ".status.phase", "operator": "In", "values": ["Pending"]}]},
            "next": {"statusTemplate": template},
        },
    }


def _stage_dir(tmp_path: Path, pod_ready_template: str = POD_READY_TEMPLATE) -> Path:
    for f in DEFAULT_STAGE_FILES:
        name = f.removesuffix(".yaml")
        template = pod_ready_template if name == "pod-ready" else "phase: Running\n"
        (tmp_path / f).write_text(yaml.safe_dump(_stage(name, template)), encoding="utf-8")
    return tmp_path


def test_platform_pods_start_not_ready_and_every_other_pod_keeps_kwoks_ready(tmp_path: Path) -> None:
    stages = {s["metadata"]["name"]: s for s in runtime_readiness_stages(_stage_dir(tmp_path))}
    assert set(stages) == {f.removesuffix(".yaml") for f in DEFAULT_STAGE_FILES} | {RUNTIME_STAGE}
    key = runtime_owned_pod_key()
    ready_sel = stages["pod-ready"]["spec"]["selector"]["matchExpressions"]
    runtime_sel = stages[RUNTIME_STAGE]["spec"]["selector"]["matchExpressions"]
    assert {"key": key, "operator": "NotIn", "values": ["true"]} in ready_sel
    assert {"key": key, "operator": "In", "values": ["true"]} in runtime_sel
    # both keep KWOK's own conditions (Pending, not deleted): only the readiness differs
    assert ready_sel[0] == runtime_sel[0]
    kwok = yaml.safe_load(stages["pod-ready"]["spec"]["next"]["statusTemplate"].replace("{{", "#"))
    assert kwok == yaml.safe_load(POD_READY_TEMPLATE.replace("{{", "#"))
    ours = stages[RUNTIME_STAGE]["spec"]["next"]["statusTemplate"]
    conditions = yaml.safe_load(ours.replace("{{", "#"))["conditions"]
    assert {c["type"]: c["status"] for c in conditions} == {"Initialized": "True", "Ready": "False",
                                                            "ContainersReady": "False"}
    assert "ready: false" in ours.split("initContainerStatuses")[0]


def test_the_runtime_key_names_every_platform_service_and_only_aideon_pods() -> None:
    key = runtime_owned_pod_key()
    assert '"app.kubernetes.io/part-of"] == "aideon"' in key
    for service in ("api-gateway", "vector-db", "web-client"):
        assert f'"{service}"' in key


def test_a_pod_ready_stage_of_another_shape_is_refused_naming_the_module(tmp_path: Path) -> None:
    changed = POD_READY_TEMPLATE.replace('status: "True"\n  type: Ready\n', 'status: "True"\n  type: Started\n')
    with pytest.raises(ClusterError, match=r"pod-ready stage does not have the shape kwokstages\.py expects "
                                           r"\(1 Ready conditions, 2 container ready flags\)"):
        runtime_readiness_stages(_stage_dir(tmp_path, changed))


def test_missing_default_stages_name_the_directory_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match=r"KWOK's default stages are missing from .* \(node-initialize\.yaml\): "
                                           r"run `make binaries`"):
        runtime_readiness_stages(tmp_path)
