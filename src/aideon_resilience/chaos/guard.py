"""Safety limits shared by the safety control and by every mutating action.

- Only allow-listed kube contexts: the local cluster's context (``kwok-aideon``) by default,
  others only through ``AIDEON_CHAOS_ALLOWED_CONTEXTS`` (comma separated).
- Target namespaces must carry the label ``chaos.aideon.io/allowed: "true"``.
- No single action hits more than ``AIDEON_CHAOS_MAX_POD_SHARE`` (default 0.5) of a workload's
  pods or ``AIDEON_CHAOS_MAX_NODE_SHARE`` (default 0.34) of the nodes.
- Destructive actions need an explicit target; local endpoints must be loopback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aideon_resilience.adapters.localcluster.paths import CONTEXT as LOCAL_CONTEXT
from aideon_resilience.adapters.localcluster.paths import REHEARSAL_CONTEXT
from aideon_resilience.chaos import k8s
from aideon_resilience.errors import SafetyRefusal, UsageError
from aideon_resilience.settings import Settings, settings

# the clusters the harness starts itself (the local one and the rehearsal's), defined once in
# adapters.localcluster.paths
DEFAULT_CONTEXTS = (LOCAL_CONTEXT, REHEARSAL_CONTEXT)
NAMESPACE_LABEL = "chaos.aideon.io/allowed"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def allowed_contexts(env: Settings | None = None) -> list[str]:
    names = list(DEFAULT_CONTEXTS) + (env or settings()).allowed_contexts
    return sorted(set(names))


def _share(var: str) -> float:
    env = settings()
    try:
        value = env.float_value(var)
    except UsageError as exc:
        raise SafetyRefusal(exc.message) from None
    if not 0 < value <= 1:
        raise SafetyRefusal(f"environment: {var}: must be in (0, 1], got {env.text(var)}")
    return value


def max_pod_share() -> float:
    return _share("AIDEON_CHAOS_MAX_POD_SHARE")


def max_node_share() -> float:
    return _share("AIDEON_CHAOS_MAX_NODE_SHARE")


def check_limits(env: Settings | None = None) -> None:
    """Every chaos limit read and checked now (SafetyRefusal naming the variable), as the gate does
    before anything changes: a malformed limit must not surface mid-suite as a refused action."""
    env = env or settings()
    max_pod_share()
    max_node_share()
    for var in ("AIDEON_CHAOS_MAX_USERS", "AIDEON_CHAOS_MAX_LOAD_SECONDS"):
        try:
            value = env.int_value(var)
        except UsageError as exc:
            raise SafetyRefusal(exc.message) from None
        if value < 1:
            raise SafetyRefusal(f"environment: {var}: must be at least 1, got {env.text(var)}")


def cap(total: int, share: float) -> int:
    """Largest number of targets out of `total` a single action may hit."""
    return math.floor(total * share + 1e-9)


def require_allowed_context(secrets: dict[str, Any] | None = None) -> str:
    ctx = k8s.current_context(secrets)
    allowed = allowed_contexts()
    if ctx not in allowed:
        raise SafetyRefusal(
            f"kube context {ctx!r} is not allow-listed for chaos (allowed: {', '.join(allowed)}; "
            "add it to AIDEON_CHAOS_ALLOWED_CONTEXTS to allow it)"
        )
    return ctx


def require_namespaces_opted_in(api: Any, namespaces: list[str]) -> None:
    for ns in namespaces:
        try:
            obj = api.read_namespace(ns)
        except Exception as exc:
            if k8s.api_status(exc) == 404:
                raise SafetyRefusal(f"namespace {ns!r} does not exist") from None
            raise
        if not _opted_in(obj):
            raise SafetyRefusal(
                f'namespace {ns!r} has not opted in to chaos (label {NAMESPACE_LABEL}="true" missing)'
            )


def _opted_in(namespace: Any) -> bool:
    labels = (namespace.metadata.labels or {}) if namespace.metadata else {}
    return bool(labels.get(NAMESPACE_LABEL) == "true")


class OptIns:
    """Which namespaces have opted in to chaos, each read once (a drain asks for every pod it evicts)."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self._known: dict[str, bool] = {}

    def __call__(self, namespace: str) -> bool:
        if namespace not in self._known:
            try:
                self._known[namespace] = _opted_in(self.core.read_namespace(namespace))
            except Exception as exc:
                if k8s.api_status(exc) != 404:
                    raise
                self._known[namespace] = False
        return self._known[namespace]


@dataclass
class Cleared:
    """What `authorize` found: the allow-listed context, and the API clients to act through."""

    context: str
    secrets: dict[str, Any] | None = None
    _api: k8s.KubeClients | None = None

    @property
    def api(self) -> k8s.KubeClients:
        if self._api is None:
            self._api = k8s.clients(self.secrets)
        return self._api


def authorize(action: str, secrets: dict[str, Any] | None = None,
              namespaces: list[str | None] | tuple[str | None, ...] = ()) -> Cleared:
    """The checks every mutating action makes itself before it changes anything, whether or not the
    safety control ran (an experiment may lack it, misspell its module, or be driven from Python):
    the kube context is allow-listed and every namespace the action names has opted in. Refuses
    with SafetyRefusal; returns the context and the clients to act through."""
    context = require_allowed_context(secrets)
    cleared = Cleared(context, secrets)
    names = sorted({n for n in namespaces if n})
    if names:
        try:
            require_namespaces_opted_in(cleared.api.core, names)
        except SafetyRefusal as exc:
            raise SafetyRefusal(f"{action}: {exc}") from None
    return cleared


def require_node_share(hit: int, total: int) -> None:
    share = max_node_share()
    limit = cap(total, share)
    if hit > limit:
        raise SafetyRefusal(
            f"refusing to hit {hit} of {total} nodes: AIDEON_CHAOS_MAX_NODE_SHARE={share} allows {limit}"
        )


def require_pod_share(hit: int, total: int, workload: str) -> None:
    share = max_pod_share()
    limit = cap(total, share)
    if hit > limit:
        raise SafetyRefusal(
            f"refusing to hit {hit} of {total} pods of {workload}: "
            f"AIDEON_CHAOS_MAX_POD_SHARE={share} allows {limit}"
        )


def require_target(action: str, **targets: Any) -> None:
    if not any(v not in (None, "", [], {}) for v in targets.values()):
        names = " or ".join(targets)
        raise SafetyRefusal(f"{action} needs an explicit target ({names}); it never acts on everything")


def require_loopback(url: str, what: str) -> str:
    host = urlsplit(url).hostname
    if host not in LOOPBACK_HOSTS:
        raise SafetyRefusal(f"{what} {url!r} is not a loopback address; chaos only talks to 127.0.0.1")
    return url


def split_names(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def opt_float(value: object) -> float | None:
    """A number from an experiment argument; None or "" mean unset."""
    if value is None or value == "":
        return None
    return float(value)  # type: ignore[arg-type]


def opt_int(value: object) -> int | None:
    f = opt_float(value)
    return None if f is None else int(f)
