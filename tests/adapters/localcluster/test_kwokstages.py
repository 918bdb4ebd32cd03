"""The local clusters' KWOK stages (kwokstages.py), without a cluster: node loss held, pod readiness split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aideon_resilience.adapters.localcluster import ClusterPaths, LocalCluster
from aideon_resilience.adapters.localcluster.kwokconfig import kwokctl_configuration
from aideon_resilience.adapters.localcluster.kwokstages import (
    DEFAULT_STAGE_FILES,
    HEARTBEAT,
    NODE_LOSS_STAGE,
    RUNTIME_STAGE,
    cluster_stages,
    runtime_owned_pod_key,
)
from aideon_resilience.adapters.localcluster.nodes import LOSS_ANNOTATION, LOSS_SEEN_ANNOTATION
from aideon_resilience.adapters.localcluster.stage_objects import of_kind
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
    kind = "Node" if name.startswith("node-") else "Pod"
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name},
        "spec": {
            "resourceRef": {"apiGroup": "v1", "kind": kind},
            "selector": {"matchExpressions": [{"key": ".status.phase", "operator": "In", "values": ["Pending"]}]},
            "next": {"statusTemplate": template},
        },
    }


def _stage_dir(tmp_path: Path, pod_ready_template: str = POD_READY_TEMPLATE) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for f in DEFAULT_STAGE_FILES:
        name = f.removesuffix(".yaml")
        template = pod_ready_template if name == "pod-ready" else "phase: Running\n"
        (tmp_path / f).write_text(yaml.safe_dump(_stage(name, template)), encoding="utf-8")
    return tmp_path


def test_platform_pods_start_not_ready_and_every_other_pod_keeps_kwoks_ready(tmp_path: Path) -> None:
    stages = {s["metadata"]["name"]: s for s in cluster_stages(_stage_dir(tmp_path), runtime_readiness=True)}
    assert set(stages) == {f.removesuffix(".yaml") for f in DEFAULT_STAGE_FILES} | {RUNTIME_STAGE, NODE_LOSS_STAGE}
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
        cluster_stages(_stage_dir(tmp_path, changed), runtime_readiness=True)


def test_missing_default_stages_name_the_directory_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match=r"KWOK's default stages are missing from .* \(node-initialize\.yaml\): "
                                           r"run `make binaries`"):
        cluster_stages(tmp_path, runtime_readiness=False)


def _names(stages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["metadata"]["name"]: s for s in stages}


@pytest.mark.parametrize("runtime_readiness", [True, False])
def test_kwoks_node_stages_leave_a_lost_node_alone_and_one_stage_acknowledges_it(
    tmp_path: Path, runtime_readiness: bool
) -> None:
    stages = _names(cluster_stages(_stage_dir(tmp_path), runtime_readiness=runtime_readiness))
    lost = f'.metadata.annotations["{LOSS_ANNOTATION}"]'
    for name in ("node-initialize", HEARTBEAT):
        assert {"key": lost, "operator": "DoesNotExist"} in stages[name]["spec"]["selector"]["matchExpressions"]
    loss = stages[NODE_LOSS_STAGE]["spec"]
    assert loss["resourceRef"] == {"apiGroup": "v1", "kind": "Node"}
    assert loss["selector"]["matchExpressions"] == [{"key": lost, "operator": "Exists"}]
    (patch,) = loss["next"]["patches"]
    assert (patch["type"], patch["root"]) == ("merge", "metadata")
    mode = f'{{{{ index .metadata.annotations "{LOSS_ANNOTATION}" | Quote }}}}'
    rendered = patch["template"].replace(mode, '"notready"')
    assert yaml.safe_load(rendered) == {"annotations": {LOSS_SEEN_ANNOTATION: "notready"}}
    # a heartbeat within every node-loss test, so a lost node turning Ready by itself fails one
    delay = stages[HEARTBEAT]["spec"]["delay"]
    assert 0 < delay["durationMilliseconds"] <= delay["jitterDurationMilliseconds"] <= 30_000
    assert (RUNTIME_STAGE in stages) is runtime_readiness
    # the pod stages are untouched by the node edits
    assert not any(lost in str(stages[n]["spec"]["selector"]) for n in ("pod-ready", "pod-complete", "pod-delete"))


def test_a_cluster_is_reused_only_when_it_takes_its_stages_as_objects(tmp_path: Path) -> None:
    paths = ClusterPaths(name="t", root=tmp_path)
    cluster = LocalCluster(paths)
    assert not cluster._stages_are_objects()  # no configuration written: nothing to reuse
    conf = kwokctl_configuration(paths)
    paths.config_file.write_text(yaml.safe_dump_all([conf]), encoding="utf-8")
    assert cluster._stages_are_objects()
    older = {**conf, "options": {k: v for k, v in conf["options"].items() if k != "enableCRDs"}}
    paths.config_file.write_text(yaml.safe_dump_all([older, *cluster_stages(_stage_dir(tmp_path / "s"), True)]),
                                 encoding="utf-8")
    assert not cluster._stages_are_objects()


def test_stages_split_by_the_kind_they_act_on(tmp_path: Path) -> None:
    stages = cluster_stages(_stage_dir(tmp_path), runtime_readiness=True)
    nodes, pods = of_kind(stages, "Node"), of_kind(stages, "Pod")
    assert {s["metadata"]["name"] for s in nodes} == {"node-initialize", HEARTBEAT, NODE_LOSS_STAGE}
    assert len(nodes) + len(pods) == len(stages)
