"""The in-cluster gate (manifests/chaos-runner) and load generator (manifests/loadgen) build,
validate, and the gate's RBAC grants every call the gate makes there, and no more writes than it
needs (no Secret, no wildcard, no write outside the namespaces named)."""

from __future__ import annotations

from typing import Any

import pytest

from aideon_resilience.adapters.kustomize import build
from aideon_resilience.gate.loadgen import MASTER, NAMESPACE
from tests.conftest import REPO
from tests.manifests.test_manifests import validate

SUBJECT = {"kind": "ServiceAccount", "name": "aideon-gate", "namespace": "aideon-chaos"}
PLATFORM = ["aideon-backend", "aideon-knowledge", "aideon-frontend", "aideon-security"]


def _objects() -> list[dict[str, Any]]:
    return build(REPO / "manifests" / "chaos-runner")


def allowed(objects: list[dict[str, Any]], group: str, resource: str, verb: str, namespace: str | None,
            name: str | None = None) -> bool:
    """Whether the bindings of `objects` grant SUBJECT the request (RBAC's additive rules)."""
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
             for o in objects if o["kind"] in ("Role", "ClusterRole")}
    for b in objects:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding") or SUBJECT not in b.get("subjects", []):
            continue
        if b["kind"] == "RoleBinding" and b["metadata"]["namespace"] != namespace:
            continue
        ref = b["roleRef"]
        role = roles.get((ref["kind"], b["metadata"]["namespace"] if ref["kind"] == "Role" else None, ref["name"]))
        for rule in (role or {}).get("rules", []):
            if (group in rule.get("apiGroups", []) and resource in rule.get("resources", [])
                    and verb in rule.get("verbs", [])
                    and (not rule.get("resourceNames") or name in rule["resourceNames"])):
                return True
    return False


# what gate/loadgen.py does through kubectl: server-side apply, scale, the service proxy, exec
LOADGEN_CALLS = [
    ("", "namespaces", "patch", None, NAMESPACE),
    *[(g, r, v, NAMESPACE, None) for g, r in [("", "configmaps"), ("", "services"), ("", "serviceaccounts"),
                                             ("apps", "deployments"), ("networking.k8s.io", "networkpolicies")]
      for v in ("get", "create", "patch")],
    ("apps", "deployments/scale", "patch", NAMESPACE, None),
    ("", "pods", "list", NAMESPACE, None),
    ("", "pods/exec", "create", NAMESPACE, None),
    ("", "services/proxy", "get", NAMESPACE, f"{MASTER}:web"),
    ("", "services/proxy", "create", NAMESPACE, f"{MASTER}:web"),
]
# what the sampler, the probes and the chaos actions do
CHAOS_CALLS = [
    ("", "pods", "watch", None, None), ("", "nodes", "patch", None, None),
    ("autoscaling", "horizontalpodautoscalers", "watch", None, None),
    *[("", "pods/eviction", "create", ns, None) for ns in PLATFORM],
    *[("", "pods", "delete", ns, None) for ns in PLATFORM],
]


def test_chaos_runner_and_loadgen_build_and_validate() -> None:
    for directory in ("chaos-runner", "loadgen"):
        objects = build(REPO / "manifests" / directory)
        assert objects
        for obj in objects:
            validate(obj)


@pytest.mark.parametrize(("group", "resource", "verb", "namespace", "name"), [*LOADGEN_CALLS, *CHAOS_CALLS])
def test_the_gate_may_make_every_call_it_makes(group: str, resource: str, verb: str, namespace: str | None,
                                               name: str | None) -> None:
    assert allowed(_objects(), group, resource, verb, namespace, name)


@pytest.mark.parametrize(("group", "resource", "verb", "namespace", "name"), [
    ("", "secrets", "get", NAMESPACE, None),
    ("", "pods/exec", "create", "aideon-backend", None),
    ("apps", "deployments", "patch", "aideon-backend", None),
    ("", "namespaces", "patch", None, "aideon-backend"),
    ("", "services/proxy", "get", NAMESPACE, "something-else"),
    ("", "pods", "delete", "kube-system", None),
])
def test_the_gate_may_not_make_calls_it_does_not_need(group: str, resource: str, verb: str, namespace: str | None,
                                                      name: str | None) -> None:
    assert not allowed(_objects(), group, resource, verb, namespace, name)


def test_no_rule_uses_a_wildcard() -> None:
    for o in _objects():
        for rule in o.get("rules", []):
            assert "*" not in [*rule.get("verbs", []), *rule.get("resources", []), *rule.get("apiGroups", [])], o
