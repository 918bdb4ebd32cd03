"""Storage rules: StatefulSet volume claims naming a storage class the overlay does not define, or
a class that provisions nothing with fewer pre-created volumes than the replicas that claim them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from aideon_resilience.core.lint.model import Finding, Inventory, LintContext, Severity
from aideon_resilience.core.lint.rule import Rule

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
NO_PROVISIONER = "kubernetes.io/no-provisioner"


def _claim_templates(wl_obj: Mapping[str, object]) -> Iterator[tuple[str, str | None]]:
    """(claim name, storage class) of each volumeClaimTemplate of a StatefulSet."""
    spec = wl_obj.get("spec")
    for claim in (spec.get("volumeClaimTemplates") if isinstance(spec, Mapping) else None) or []:
        if isinstance(claim, Mapping):
            cls = (claim.get("spec") or {}).get("storageClassName")
            yield str((claim.get("metadata") or {}).get("name")), None if cls is None else str(cls)


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

def _check_unprovisioned(inv: Inventory, ctx: LintContext) -> Iterator[Finding]:
    static = {
        str((sc.get("metadata") or {}).get("name")) for sc in inv.storage_classes
        if sc.get("provisioner") == NO_PROVISIONER
    }
    if not static:
        return
    volumes: dict[str, int] = {}
    for pv in inv.persistent_volumes:
        pv_class = str((pv.get("spec") or {}).get("storageClassName") or "")
        volumes[pv_class] = volumes.get(pv_class, 0) + 1
    for wl in inv.workloads:
        if wl.kind != "StatefulSet" or wl.max_replicas is None:
            continue
        for claim_name, cls in _claim_templates(wl.obj):
            have = volumes.get(cls or "", 0)
            if cls in static and have < wl.max_replicas:
                yield STS_UNPROVISIONED.report(
                    wl.obj,
                    f"volume claim {claim_name!r} uses storage class {cls!r}, whose provisioner "
                    f"{NO_PROVISIONER} creates no volume, and the overlay pre-creates {have} PersistentVolume(s) "
                    f"of it for up to {wl.max_replicas} replicas: the claims beyond {have} never bind and "
                    "their pods stay Pending",
                )


STS_UNPROVISIONED = Rule(
    "STS002", Severity.ERROR, "StatefulSet claims a storage class that provisions nothing, with too few volumes",
    _check_unprovisioned,
    doc=(
        "A StorageClass whose provisioner is `kubernetes.io/no-provisioner` only binds claims to "
        "PersistentVolumes created beforehand. When the overlay defines such a class and a StatefulSet's "
        "volumeClaimTemplate uses it, every replica up to the workload's maximum (its HPA's maxReplicas, "
        "else `replicas`) needs a volume of that class among the linted objects; otherwise the extra "
        "claims stay Pending forever (no controller will create a volume), and so do their pods.\n\n"
        "Fix: give the class a provisioner (the cluster's CSI driver, or a local-volume provisioner), or "
        "pre-create one PersistentVolume of the class per replica."
    ),
    upstream="none.",
)

RULES = (STS_NO_CLASS, STS_UNPROVISIONED)
