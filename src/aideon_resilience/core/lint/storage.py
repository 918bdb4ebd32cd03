"""Storage rules: StatefulSet volume claims naming a storage class the overlay does not define."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from aideon_resilience.core.lint.model import Finding, Inventory, LintContext, Severity
from aideon_resilience.core.lint.rule import Rule

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def _check_storage_class(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    if not inv.storage_classes:
        return  # the overlay leaves storage classes to the cluster: nothing to check against
    names = {str((sc.get("metadata") or {}).get("name")) for sc in inv.storage_classes}
    defaults = sorted(
        str((sc.get("metadata") or {}).get("name")) for sc in inv.storage_classes
        if str(((sc.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION)) == "true"
    )
    for wl in inv.workloads:
        if wl.kind != "StatefulSet":
            continue
        for claim in (wl.obj.get("spec") or {}).get("volumeClaimTemplates") or []:
            if not isinstance(claim, Mapping):
                continue
            claim_name = (claim.get("metadata") or {}).get("name")
            cls = (claim.get("spec") or {}).get("storageClassName")
            if cls == "":
                continue  # explicitly no class: binds to pre-provisioned volumes
            if cls is None and not defaults:
                yield STS_NO_CLASS.report(
                    wl.obj,
                    f"volume claim {claim_name!r} names no storage class and none of the overlay's classes "
                    f"({', '.join(sorted(names))}) is the default: its PVCs stay Pending",
                )
            elif cls is not None and str(cls) not in names:
                yield STS_NO_CLASS.report(
                    wl.obj,
                    f"volume claim {claim_name!r} names storage class {cls!r}, which the overlay does not define "
                    f"(it defines {', '.join(sorted(names))}): its PVCs and pods stay Pending",
                )


STS_NO_CLASS = Rule(
    "STS001", Severity.ERROR, "StatefulSet volume claim names a storage class the overlay does not define",
    _check_storage_class,
    doc=(
        "Applies when the linted objects define StorageClasses (the overlay manages storage): a "
        "volumeClaimTemplate naming a class that is not among them, or naming none while none of them is "
        "the default, gives PersistentVolumeClaims that never bind, so every replica stays Pending. "
        "`storageClassName: \"\"` (static binding) is left alone.\n\n"
        "Fix: name one of the overlay's classes, or mark one as the default."
    ),
    upstream="none.",
)

RULES = (STS_NO_CLASS,)
