"""Suppressions: per object by annotation (with a required reason), per run by code.

    metadata:
      annotations:
        lint.aideon.io/ignore: "PDB003,AFF003"
        lint.aideon.io/ignore-reason: "leader-elected singleton; a second replica only waits"

A suppressed finding is still reported, marked with who suppressed it and why; it does not count
toward the exit code. An ignore annotation without a reason suppresses nothing and is itself an
error (LNT001); LNT codes cannot be suppressed by annotation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from aideon_resilience.core.lint.model import (
    Finding,
    Inventory,
    KubeObject,
    LintContext,
    ObjectRef,
    Severity,
    Suppression,
    ref,
)
from aideon_resilience.core.lint.rule import Rule

IGNORE = "lint.aideon.io/ignore"
REASON = "lint.aideon.io/ignore-reason"
LINT_PREFIX = "LNT"


def _annotations(obj: KubeObject) -> dict[str, str]:
    raw = (obj.get("metadata") or {}).get("annotations") or {}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def ignored_codes(obj: KubeObject) -> list[str]:
    """Codes listed in an object's ignore annotation (comma or space separated, any case)."""
    text = _annotations(obj).get(IGNORE, "")
    return [c.strip().upper() for c in text.replace(",", " ").split() if c.strip()]


def ignore_reason(obj: KubeObject) -> str:
    return _annotations(obj).get(REASON, "").strip()


def _check_reason(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    for obj in inv.objects:
        if ignored_codes(obj) and not ignore_reason(obj):
            yield LNT_NO_REASON.report(
                obj,
                f"{IGNORE} lists {', '.join(ignored_codes(obj))} without a {REASON} annotation: "
                "nothing is suppressed until the reason is written down",
            )


def apply(
    findings: Iterable[Finding], inv: Inventory, disabled: frozenset[str]
) -> Iterator[Finding]:
    """The findings with `suppressed` set where an annotation (with reason) or `--disable` says so."""
    by_ref: dict[ObjectRef, KubeObject] = {}
    for obj in inv.objects:
        by_ref.setdefault(ref(obj), obj)
    for f in findings:
        found = by_ref.get(f.object)
        if f.code in disabled:
            yield f.with_suppression(Suppression(by="disable", reason=f"--disable {f.code}"))
        elif (
            found is not None
            and not f.code.startswith(LINT_PREFIX)
            and f.code in ignored_codes(found)
            and ignore_reason(found)
        ):
            yield f.with_suppression(Suppression(by="annotation", reason=ignore_reason(found)))
        else:
            yield f


LNT_NO_REASON = Rule(
    "LNT001", Severity.ERROR, "ignore annotation without a reason", _check_reason,
    doc=(
        f"An object carries `{IGNORE}` but no `{REASON}` (or an empty one). Suppressions must say why, "
        "so that a reviewer can judge them; without a reason nothing is suppressed and this finding "
        "is reported instead.\n\n"
        f"Fix: add `{REASON}: \"<why this object is an exception>\"`."
    ),
    upstream="kube-linter's ignore annotations (`ignore-check.kube-linter.io/<check>`) take the reason as "
    "the annotation value but do not require it; kube-score's `kube-score/ignore` has no reason.",
)

RULES = (LNT_NO_REASON,)
