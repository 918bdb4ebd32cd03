"""Which objects kubectl's refusal says changed an immutable field (`apply_objects(replace_immutable=True)`
re-creates exactly those; the cluster half is tests/manifests/test_server_side.py)."""

from __future__ import annotations

from aideon_resilience.adapters.kube.apply import immutable_refusals

STDERR = (
    'Error from server (Invalid): error when applying patch: ... The Deployment "api-gateway" is invalid: '
    'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"version":"v1"}}: '
    "field is immutable\n"
)


def _obj(kind: str, name: str, namespace: str = "aideon-backend") -> dict[str, object]:
    return {"kind": kind, "metadata": {"name": name, "namespace": namespace}}


def test_only_the_named_object_of_the_named_kind_is_picked() -> None:
    batch = [_obj("Deployment", "api-gateway"), _obj("Service", "api-gateway"), _obj("Deployment", "auth-service")]
    assert immutable_refusals(STDERR, batch) == [batch[0]]


def test_other_refusals_pick_nothing() -> None:
    other = 'The HorizontalPodAutoscaler "bad" is invalid: spec.maxReplicas: Invalid value: 2: must be >= minReplicas'
    assert immutable_refusals(other, [_obj("HorizontalPodAutoscaler", "bad")]) == []
    assert immutable_refusals(STDERR, [_obj("StatefulSet", "api-gateway")]) == []
