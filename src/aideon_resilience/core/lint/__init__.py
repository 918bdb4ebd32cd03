"""Static resilience lint of rendered Kubernetes objects (see `registry.RULES` for the rules)."""

from aideon_resilience.core.lint.kinds import unknown_kinds
from aideon_resilience.core.lint.model import Finding, LintContext, ObjectRef, Severity
from aideon_resilience.core.lint.registry import RULES, analysis_notes, lint

__all__ = ["RULES", "Finding", "LintContext", "ObjectRef", "Severity", "analysis_notes", "lint", "unknown_kinds"]
