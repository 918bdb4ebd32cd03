"""Kubernetes label selectors: one matcher for the lint (rendered objects) and the chaos extension
(the API's objects, converted to the same dictionary form first)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The well-known labels the harness reads: the service a pod belongs to, the node's name and zone.
SERVICE_LABEL = "app.kubernetes.io/name"
HOSTNAME_LABEL = "kubernetes.io/hostname"
ZONE_LABEL = "topology.kubernetes.io/zone"


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """Kubernetes LabelSelector semantics; an empty selector matches everything, None nothing."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != str(value):
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key"), expr.get("operator")
        values = [str(v) for v in expr.get("values") or []]
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
