"""What a lint rule is: a stable code, a severity, a one-line title and a check function."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aideon_resilience.core.lint.model import Finding, Inventory, KubeObject, LintContext, Severity, finding

Check = Callable[[Inventory, LintContext], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    title: str
    check: Check

    def report(self, obj: KubeObject, message: str) -> Finding:
        return finding(self.code, self.severity, obj, message)
