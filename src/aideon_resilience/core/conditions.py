"""The status conditions of Kubernetes objects as the API client returns them (pods, nodes)."""

from __future__ import annotations

from typing import Any


def is_ready(obj: Any) -> bool:
    """True when the object's `Ready` condition is `True`; an object without status or conditions is not."""
    status = getattr(obj, "status", None)
    conditions = getattr(status, "conditions", None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)
