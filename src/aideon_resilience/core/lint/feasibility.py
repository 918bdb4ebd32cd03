"""Feasibility analyses: drains, zone loss and quotas against the declared cluster shape."""

from __future__ import annotations

from aideon_resilience.core.lint.rule import Rule

RULES: tuple[Rule, ...] = ()
