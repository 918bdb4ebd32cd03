"""Chaos Toolkit extension of the Aideon resilience harness.

Actions (``aideon_resilience.chaos.actions``) break things on purpose and always record how to
undo it before they change anything (``aideon_resilience.chaos.undo``); probes
(``aideon_resilience.chaos.probes``) return JSON-serialisable evidence with an ``ok`` flag;
controls (``aideon_resilience.chaos.controls``) guard the run (allow-listed context, namespace
opt-in) and drive Locust load for its duration. See chaos/README.md for the experiments.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
