"""Kubernetes access for the chaos extension.

Follows the chaosk8s conventions: the client comes from ``chaosk8s.create_k8s_api_client``, which
reads the current KUBECONFIG (and ``KUBERNETES_CONTEXT`` from the secrets or the environment).
Tests replace :func:`clients` with a fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ActivityFailed

from aideon_resilience.core.selectors import selector_matches
from aideon_resilience.errors import SafetyRefusal
from aideon_resilience.settings import settings

IN_CLUSTER = "in-cluster"


@dataclass
class KubeClients:
    core: Any
    policy: Any
    apps: Any
    autoscaling: Any


def _from_api_client(api_client: Any) -> KubeClients:
    from kubernetes import client  # Kubernetes client: only when an activity runs

    return KubeClients(
        core=client.CoreV1Api(api_client),
        policy=client.PolicyV1Api(api_client),
        apps=client.AppsV1Api(api_client),
        autoscaling=client.AutoscalingV2Api(api_client),
    )


def clients(secrets: dict[str, Any] | None = None) -> KubeClients:
    """API clients for the context chaosk8s would use with these secrets.

    With a kubeconfig file the path is read from $KUBECONFIG now: chaosk8s would load the default
    location the kubernetes client fixed when it was imported, which misses a KUBECONFIG set later
    in the same process. Without one (a pod), chaosk8s builds the in-cluster client.
    """
    path = kubeconfig_path()
    if Path(path).is_file():
        context = (secrets or {}).get("KUBERNETES_CONTEXT") or settings().text("KUBERNETES_CONTEXT")
        return clients_for(path, context)
    from chaosk8s import create_k8s_api_client  # Kubernetes client: only when an activity runs

    return _from_api_client(create_k8s_api_client(secrets))


def clients_for(kubeconfig: str | None, context: str | None) -> KubeClients:
    """API clients for an explicit kubeconfig file and context (used by the rollback command)."""
    from kubernetes import config  # Kubernetes client: only when an activity runs

    api_client = config.new_client_from_config(config_file=kubeconfig or None, context=context or None)
    return _from_api_client(api_client)


def kubeconfig_path() -> str:
    return str(settings().kubeconfig_file)


def current_context(secrets: dict[str, Any] | None = None) -> str:
    """Name of the kube context the chaos actions would act on; refuses when there is none."""
    override = (secrets or {}).get("KUBERNETES_CONTEXT") or settings().text("KUBERNETES_CONTEXT")
    if override:
        return str(override)
    path = kubeconfig_path()
    if not Path(path).is_file():
        if settings().raw("CHAOSTOOLKIT_IN_POD") == "true":
            return IN_CLUSTER  # the chaos runner Job: allowed only if listed explicitly
        raise SafetyRefusal(f"{path}: no kubeconfig file, so no allow-listed context to act on")
    from kubernetes import config  # Kubernetes client: only when an activity runs

    try:
        _contexts, active = config.list_kube_config_contexts(config_file=path)
    except Exception as exc:  # malformed kubeconfig: refuse rather than guess
        raise SafetyRefusal(f"{path}: current-context: unreadable kubeconfig ({exc})") from None
    if not active or not active.get("name"):
        raise SafetyRefusal(f"{path}: current-context: not set")
    return str(active["name"])


def labels_match(selector: Any, labels: dict[str, str] | None) -> bool:
    """True when a V1LabelSelector (or the dict form) selects an object with these labels."""
    if selector is None:
        return False
    exprs = _get(selector, "match_expressions", "matchExpressions") or []
    return selector_matches({
        "matchLabels": _get(selector, "match_labels", "matchLabels") or {},
        "matchExpressions": [{"key": _get(e, "key", "key"), "operator": _get(e, "operator", "operator"),
                              "values": _get(e, "values", "values") or []} for e in exprs],
    }, labels)


def _get(obj: Any, attr: str, key: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, obj.get(attr))
    return getattr(obj, attr, None)


def api_status(exc: BaseException) -> int | None:
    """HTTP status of a kubernetes ApiException (None for anything else)."""
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def read_workload(apps: Any, kind: str, namespace: str, name: str) -> Any:
    """The Deployment or StatefulSet `namespace`/`name`; ActivityFailed naming it when it does not exist."""
    readers = {
        "deployment": apps.read_namespaced_deployment,
        "statefulset": apps.read_namespaced_stateful_set,
    }
    reader = readers.get(kind.lower())
    if reader is None:
        raise ActivityFailed(f"kind must be Deployment or StatefulSet, got {kind!r}")
    try:
        return reader(name, namespace)
    except Exception as exc:
        if api_status(exc) == 404:
            raise ActivityFailed(f"no {kind} {namespace}/{name}") from None
        raise
