"""Tolerance helper: every Aideon probe returns a dict with an ``ok`` flag.

Use it in a steady-state hypothesis as::

    "tolerance": {"type": "probe", "name": "held", "provider": {"type": "python",
      "module": "aideon_resilience.chaos.probes.tolerance", "func": "held", "arguments": {}}}
"""

from __future__ import annotations

from typing import Any


def held(value: Any = None) -> bool:
    """True when a probe's evidence says the property held."""
    return isinstance(value, dict) and value.get("ok") is True
