"""Apply objects server-side (kubectl's server-side apply) and wait until workloads are ready.

Used by `deploy`, the gate and the manifest tests. Custom resource definitions go first and are
waited for (Established) before the objects that use them; namespaces go before what lives in
them. `dry_run=True` asks the API server to validate and admit without persisting.
`replace_immutable=True` (clusters this tool made: the local one, a rehearsal's) deletes and
re-creates an object whose change touches an immutable field (a Deployment's selector), as
`kubectl apply --force` does for client-side apply; elsewhere that change is refused input.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml
from kubernetes import client

from aideon_resilience.adapters.kustomize import KubeObject, kubectl_path
from aideon_resilience.errors import InfrastructureError, InputFileError
from aideon_resilience.settings import settings

FIELD_MANAGER = "aideon-resilience"
_FIRST = {"CustomResourceDefinition": 0, "Namespace": 1, "StorageClass": 2, "PriorityClass": 2}


def _order(obj: KubeObject) -> int:
    return _FIRST.get(str(obj.get("kind")), 3)


def default_kubeconfig() -> Path:
    """The kubeconfig kubectl would use: the first entry of $KUBECONFIG, else ~/.kube/config."""
    return settings().kubeconfig_file


def kubectl(args: list[str], kubeconfig: Path | None, context: str | None, stdin: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    cmd = [kubectl_path()]
    if kubeconfig is not None:
        cmd.append(f"--kubeconfig={kubeconfig}")
    if context:
        cmd.append(f"--context={context}")
    try:
        return subprocess.run(cmd + args, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise InfrastructureError(f"kubectl {' '.join(args[:2])} did not finish within {timeout:.0f}s") from None


def _first_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.lower().startswith("error") or "invalid" in ln.lower():
            return ln[:400]
    return (lines[0] if lines else "kubectl failed")[:400]


_REFUSED = ("invalid", "forbidden", "no matches for kind", "denied", "is required")
# kubectl: `The Deployment "api-gateway" is invalid: spec.selector: Invalid value: ...: field is immutable`
_IMMUTABLE = re.compile(r'The (\w+) "([^"]+)" is invalid: .*field is immutable')


def immutable_refusals(stderr: str, batch: list[KubeObject]) -> list[KubeObject]:
    """The objects of `batch` that kubectl says changed an immutable field."""
    named = {(m.group(1), m.group(2)) for m in _IMMUTABLE.finditer(stderr)}
    return [o for o in batch if (o.get("kind"), (o.get("metadata") or {}).get("name")) in named]


def _delete(obj: KubeObject, kubeconfig: Path | None, context: str | None) -> None:
    meta = obj.get("metadata") or {}
    args = ["delete", str(obj["kind"]), str(meta["name"]), "--wait=true", "--timeout=120s", "--ignore-not-found"]
    if meta.get("namespace"):
        args += ["-n", str(meta["namespace"])]
    proc = kubectl(args, kubeconfig, context)
    if proc.returncode != 0:
        raise InfrastructureError(f"deleting {obj['kind']}/{meta['name']} to re-create it failed: "
                                  f"{_first_error(proc.stderr)}")


def apply_objects(
    objects: Iterable[KubeObject],
    kubeconfig: Path | None,
    context: str | None = None,
    dry_run: bool = False,
    source: str = "manifests",
    replace_immutable: bool = False,
) -> list[str]:
    """Server-side apply; returns kubectl's lines (`kind/name serverside-applied`).

    Objects the API server refuses (invalid, forbidden by admission, unknown kind) are unusable
    input naming `source`; any other failure is an infrastructure error.
    """
    ordered = sorted(objects, key=_order)
    crds = [o for o in ordered if o.get("kind") == "CustomResourceDefinition"]
    rest = [o for o in ordered if o.get("kind") != "CustomResourceDefinition"]
    lines: list[str] = []
    for batch in ([crds, rest] if crds else [rest]):
        if not batch:
            continue
        args = ["apply", "--server-side", "--force-conflicts", f"--field-manager={FIELD_MANAGER}", "-f", "-"]
        if dry_run:
            args.insert(1, "--dry-run=server")
        stdin = yaml.safe_dump_all(batch, sort_keys=False)
        proc = kubectl(args, kubeconfig, context, stdin=stdin)
        stale = immutable_refusals(proc.stderr, batch) if proc.returncode != 0 and replace_immutable else []
        if stale and not dry_run:
            for obj in stale:
                _delete(obj, kubeconfig, context)
            proc = kubectl(args, kubeconfig, context, stdin=stdin)
        if proc.returncode != 0:
            first = _first_error(proc.stderr)
            if any(word in first.lower() for word in _REFUSED):
                raise InputFileError(source, f"the API server refused the objects: {first}")
            raise InfrastructureError(f"kubectl apply of {source} failed: {first}")
        lines.extend(proc.stdout.splitlines())
        if batch is crds and not dry_run:
            names = [f"crd/{o['metadata']['name']}" for o in crds]
            proc = kubectl(["wait", "--for=condition=Established", "--timeout=60s", *names], kubeconfig, context)
            if proc.returncode != 0:
                raise InfrastructureError(f"custom resource definitions not established: {_first_error(proc.stderr)}")
    return lines


def _workload_ready(api: client.ApiClient, obj: KubeObject, floor: int = 0) -> str | None:
    """None when ready (at least `floor` replicas, an HPA's minimum), else a short reason."""
    kind, meta = obj.get("kind"), obj.get("metadata", {})
    ns, name = meta.get("namespace", "default"), meta.get("name")
    apps = client.AppsV1Api(api)
    if kind == "Deployment":
        d = apps.read_namespaced_deployment(name, ns)
        want = max(d.spec.replicas or 0, floor)
        st = d.status
        if (st.observed_generation or 0) < d.metadata.generation or (st.available_replicas or 0) < want \
                or (st.updated_replicas or 0) < want:
            return f"deployment {ns}/{name}: {st.available_replicas or 0}/{want} available"
    elif kind == "StatefulSet":
        s = apps.read_namespaced_stateful_set(name, ns)
        want = s.spec.replicas or 0
        if (s.status.ready_replicas or 0) < want:
            return f"statefulset {ns}/{name}: {s.status.ready_replicas or 0}/{want} ready"
    return None


def wait_ready(
    api: client.ApiClient,
    objects: Iterable[KubeObject],
    timeout: float = 180,
    progress: Callable[[str], None] | None = None,
) -> float:
    """Wait until every Deployment and StatefulSet among `objects` is rolled out; returns seconds.

    A Deployment scaled by an HPA among `objects` is ready once it runs the HPA's minimum.
    """
    objects = list(objects)
    workloads = [o for o in objects if o.get("kind") in ("Deployment", "StatefulSet")]
    floors = {
        (o.get("metadata", {}).get("namespace"), o["spec"]["scaleTargetRef"]["name"]): int(
            o["spec"].get("minReplicas", 1)
        )
        for o in objects
        if o.get("kind") == "HorizontalPodAutoscaler"
    }
    start = time.monotonic()
    pending: list[str] = []
    while True:
        pending = [
            r
            for r in (
                _workload_ready(api, o, floors.get((o["metadata"].get("namespace"), o["metadata"]["name"]), 0))
                for o in workloads
            )
            if r is not None
        ]
        if not pending:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise InfrastructureError(f"not ready after {timeout:.0f}s: {pending[0]} (and {len(pending) - 1} more)")
        if progress is not None:
            progress(f"waiting for {len(pending)} of {len(workloads)} workloads")
        time.sleep(2)


