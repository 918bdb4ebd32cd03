"""Equality-based label selectors ("a=b,c!=d,e,!f") evaluated locally."""

from __future__ import annotations

from aideon_resilience.errors import UsageError


def matches(selector: str | None, labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    if not selector:
        return True
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = (p.strip() for p in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "==" in term or "=" in term:
            key, value = (p.strip() for p in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif " in " in term or " notin " in term:
            raise UsageError(f"label selector {selector!r}: set-based terms are not supported here")
        elif term not in labels:
            return False
    return True
