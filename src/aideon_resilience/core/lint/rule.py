"""What a lint rule is: a stable code, a severity, a one-line title, a check function and its doc.

The doc (why it matters, how to fix it) and the comparison with kube-score and kube-linter are
the one source of `aideon-resilience lint --explain CODE` and of docs/lint.md.
"""

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
    doc: str = ""  # markdown paragraphs: what fires it, why it matters, how to fix it
    upstream: str = ""  # the kube-score / kube-linter checks it corresponds to, or "none"

    def report(self, obj: KubeObject, message: str) -> Finding:
        return finding(self.code, self.severity, obj, message)
