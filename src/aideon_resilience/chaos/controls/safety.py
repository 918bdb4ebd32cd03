"""Safety control: refuses an experiment before anything changes, and restores at its end.

Reference it first in every experiment's ``controls``::

    {"name": "aideon-safety", "provider": {"type": "python",
     "module": "aideon_resilience.chaos.controls.safety",
     "arguments": {"namespaces": "${namespace}"}}}

Before the experiment it refuses (``InterruptExecution``) unless the kube context is
allow-listed (``kwok-aideon``, plus ``AIDEON_CHAOS_ALLOWED_CONTEXTS``) and every target
namespace carries ``chaos.aideon.io/allowed: "true"``; any error while checking also refuses
(fail closed). It starts a new undo log for the run. After the experiment it replays whatever
undo steps are still pending, whatever rollback strategy was used, so the cluster is always
put back; what it replayed is added to the journal under ``aideon_undo``.
"""

from __future__ import annotations

import logging
from typing import Any

from chaoslib.exceptions import InterruptExecution

from aideon_resilience.chaos import guard, k8s, rollback, signals, undo
from aideon_resilience.errors import SafetyRefusal

logger = logging.getLogger("chaostoolkit")

_state: dict[str, Any] = {}


def _flat_secrets(secrets: dict[str, Any] | None) -> dict[str, Any] | None:
    if not secrets:
        return None
    if isinstance(secrets.get("kubernetes"), dict):
        return dict(secrets["kubernetes"])
    flat: dict[str, Any] = {}
    for value in secrets.values():
        if isinstance(value, dict):
            flat.update(value)
    return flat or None


def target_namespaces(namespaces: Any, configuration: dict[str, Any] | None) -> list[str]:
    names = guard.split_names(namespaces)
    if not names and configuration:
        for key in ("namespace", "target_namespaces"):
            names += guard.split_names(configuration.get(key))
    return sorted(set(names))


def check(
    namespaces: list[str], secrets: dict[str, Any] | None = None
) -> str:
    """Raise SafetyRefusal unless the context is allow-listed and namespaces opted in."""
    context = guard.require_allowed_context(secrets)
    if not namespaces:
        raise SafetyRefusal("no target namespace configured (control argument 'namespaces' or 'namespace')")
    api = k8s.clients(secrets)
    guard.require_namespaces_opted_in(api.core, namespaces)
    return context


def before_experiment_control(
    context: Any,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    namespaces: Any = None,
    **kwargs: Any,
) -> None:
    _state.clear()
    undo.reset()
    names = target_namespaces(namespaces, configuration)
    try:
        kube_context = check(names, _flat_secrets(secrets))
    except SafetyRefusal as exc:
        _state["refused"] = str(exc)
        raise InterruptExecution(f"aideon safety control refused the experiment: {exc}") from None
    except Exception as exc:  # fail closed: an unverifiable target is a refused target
        _state["refused"] = str(exc)
        raise InterruptExecution(f"aideon safety control could not verify the target: {exc}") from None
    log = undo.start_run()
    signals.install()
    _state.update({"context": kube_context, "namespaces": names, "undo_dir": str(log.directory)})
    logger.info(f"aideon safety: context {kube_context} allowed; namespaces {', '.join(names)} opted in")
    logger.info(f"aideon safety: undo log at {log.directory} (`aideon-resilience rollback` replays it)")


def after_experiment_control(context: Any, state: Any = None, **kwargs: Any) -> None:
    signals.uninstall()
    if "refused" in _state:
        summary: dict[str, Any] = {"refused": _state["refused"], "undone": [], "failed": []}
    else:
        log = undo.current()
        result = rollback.replay(log.directory)
        for line in result.undone:
            logger.warning(f"aideon safety: undid what the rollbacks left: {line}")
        for line in result.failed:
            logger.error(f"aideon safety: could not undo: {line}; run `aideon-resilience rollback`")
        for line in result.unreadable:
            logger.error(f"aideon safety: skipped an unreadable undo step: {line}")
        summary = {"undo_dir": str(log.directory), **result.as_dict()}
    if isinstance(state, dict):
        state["aideon_undo"] = summary
