"""KWOK stages as API objects (`stages.kwok.x-k8s.io`), made in an order KWOK needs.

The local clusters run KWOK with its Stage CRD (`enableCRDs: [Stage]`) instead of stages in its
configuration, because KWOK v0.8.0 gets one thing wrong at start: it starts a controller per
resource kind in map order (`StagesManager.manage`, and the `LocalStages` loop of
`Controller.Start`), and a pod controller started before the node controller copies
`readOnlyFunc` while it is still unset. Such a KWOK keeps confirming the deletion of pods on a
node whose Lease it lost, which a lost kubelet never does (`nodes.py`, unreachable mode).

With stages as objects the order is ours: the node stages first; then, once the nodes are Ready
(KWOK's node controller runs, and with it the Lease controller that sets `readOnlyFunc`), the pod
stages. KWOK follows changes to Stage objects, so a stage that changed is replaced in place.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

GROUP = "kwok.x-k8s.io"
VERSION = "v1alpha1"
PLURAL = "stages"


def of_kind(stages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The stages acting on `kind` (Node, Pod)."""
    return [s for s in stages if s["spec"]["resourceRef"]["kind"] == kind]


def _existing(api: client.CustomObjectsApi) -> dict[str, dict[str, Any]]:
    listing = api.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    return {item["metadata"]["name"]: item for item in listing.get("items", [])}


def apply_stages(api_client: client.ApiClient, wanted: list[dict[str, Any]], prune: bool = False) -> list[str]:
    """Make the cluster's Stage objects match `wanted` (created, or replaced where the spec
    differs); with `prune`, delete every other Stage. Returns the names changed."""
    api = client.CustomObjectsApi(api_client)
    existing = _existing(api)
    changed: list[str] = []
    for stage in wanted:
        name = stage["metadata"]["name"]
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Stage", "metadata": {"name": name},
                "spec": stage["spec"]}
        current = existing.get(name)
        if current is None:
            api.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)
        elif current.get("spec") != stage["spec"]:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            api.replace_cluster_custom_object(GROUP, VERSION, PLURAL, name, body)
        else:
            continue
        changed.append(name)
    if prune:
        keep = {s["metadata"]["name"] for s in wanted}
        for name in sorted(set(existing) - keep):
            api.delete_cluster_custom_object(GROUP, VERSION, PLURAL, name)
            changed.append(name)
    return changed
