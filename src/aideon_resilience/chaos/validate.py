"""An experiment file checked before a gate runs it, without running anything.

Three layers, each refusing with one line naming the file and field: the file is a JSON object
(not a list, not empty, not binary); every activity and control that names a module of this
extension (`aideon_resilience.`) points at a module that imports and a function that exists and
takes the activity's arguments (a misspelt control module is only a warning to Chaos Toolkit, which
then runs the experiment without it); and Chaos Toolkit's own validation
(`chaoslib.experiment.ensure_experiment_is_valid`) passes. An experiment the gate runs must list
the safety control: it replays the undo log when the experiment ends and turns SIGTERM into an
interrupt (the actions check their bounds themselves either way).
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chaoslib.exceptions import InvalidControl
from chaoslib.experiment import ensure_experiment_is_valid

from aideon_resilience.core.files import mapping, parse, read_text
from aideon_resilience.errors import InputFileError

EXTENSION = "aideon_resilience."
SAFETY_CONTROL = "aideon_resilience.chaos.controls.safety"
CONTROL_HOOKS = ("before_experiment_control", "after_experiment_control", "before_activity_control",
                 "after_activity_control", "before_method_control", "after_method_control",
                 "before_hypothesis_control", "after_hypothesis_control", "before_rollback_control",
                 "after_rollback_control", "configure_control")
# arguments Chaos Toolkit passes itself, never listed in an activity's `arguments`
_INJECTED = ("secrets", "configuration")


def check_experiment(path: Path, require_safety: bool = True) -> dict[str, Any]:
    """The experiment's document, or InputFileError naming the file and the field at fault."""
    text = read_text(path, "no such experiment file")
    data = mapping(parse(text, path, "json"), path,
                   "a Chaos Toolkit experiment (a JSON object with title, description and method)")
    for field, value in _sections(data, path):
        _check_provider(path, field, value)
    controls = _controls(data, path)
    for field, control in controls:
        _check_control(path, field, control)
    if require_safety and SAFETY_CONTROL not in {c.get("provider", {}).get("module") for _, c in controls}:
        raise InputFileError(path, f"no safety control ({SAFETY_CONTROL}): the gate runs guarded experiments only",
                             field="controls")
    _chaoslib_check(path, data)
    return data


def _list(data: dict[str, Any], key: str, path: Path, required: bool = False) -> list[Any]:
    value = data.get(key)
    if value is None:
        if required:
            raise InputFileError(path, "missing (a list of activities, possibly empty)", field=key)
        return []
    if not isinstance(value, list):
        raise InputFileError(path, f"expected a list, got a {type(value).__name__}", field=key)
    return value


def _sections(data: dict[str, Any], path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every activity with its field path: steady-state probes, method, rollbacks."""
    hypothesis = data.get("steady-state-hypothesis")
    probes: list[Any] = []
    if hypothesis is not None:
        hyp = mapping(hypothesis, f"{path}: steady-state-hypothesis", "an object with title and probes")
        probes = _list(hyp, "probes", path)
    sections = [("steady-state-hypothesis.probes", probes), ("method", _list(data, "method", path, required=True)),
                ("rollbacks", _list(data, "rollbacks", path))]
    for name, activities in sections:
        for i, activity in enumerate(activities):
            field = f"{name}[{i}]"
            if not isinstance(activity, dict):
                raise InputFileError(path, f"an activity must be an object, got a {type(activity).__name__}",
                                     field=field)
            yield field, activity


def _controls(data: dict[str, Any], path: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for i, control in enumerate(_list(data, "controls", path)):
        if not isinstance(control, dict) or not isinstance(control.get("provider", {}), dict):
            raise InputFileError(path, "a control must be an object with a provider object", field=f"controls[{i}]")
        found.append((f"controls[{i}]", control))
    return found


def _import(path: Path, field: str, module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputFileError(path, f"no module {module!r} in this extension",
                             field=f"{field}.provider.module") from None


def _check_provider(path: Path, field: str, activity: dict[str, Any]) -> None:
    provider = activity.get("provider")
    if not isinstance(provider, dict):
        if "ref" in activity:
            return  # a reference to an activity declared elsewhere
        raise InputFileError(path, "an activity needs a provider object", field=f"{field}.provider")
    module = provider.get("module")
    if provider.get("type") != "python" or not isinstance(module, str) or not module.startswith(EXTENSION):
        return  # not ours: Chaos Toolkit's own validation below
    mod = _import(path, field, module)
    name = provider.get("func")
    func = getattr(mod, str(name), None) if isinstance(name, str) else None
    if not inspect.isfunction(func):
        raise InputFileError(path, f"{module} has no function {name!r}", field=f"{field}.provider.func")
    arguments = provider.get("arguments") or {}
    if not isinstance(arguments, dict):
        raise InputFileError(path, "expected an object", field=f"{field}.provider.arguments")
    signature = inspect.signature(func)
    given = dict(arguments)
    given.update({k: None for k in _INJECTED if k in signature.parameters and k not in given})
    try:
        signature.bind(**given)
    except TypeError as exc:
        raise InputFileError(path, f"{module}.{name}: {exc}", field=f"{field}.provider.arguments") from None


def _check_control(path: Path, field: str, control: dict[str, Any]) -> None:
    provider = control.get("provider", {})
    module = provider.get("module")
    if provider.get("type") != "python" or not isinstance(module, str) or not module.startswith(EXTENSION):
        return
    mod = _import(path, field, module)
    if not any(callable(getattr(mod, hook, None)) for hook in CONTROL_HOOKS):
        raise InputFileError(path, f"{module} is not a Chaos Toolkit control (no control function)",
                             field=f"{field}.provider.module")


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Chaos Toolkit logs while it validates: keep it off stderr (the refusal is our one line)."""
    logger = logging.getLogger(logger_name)
    saved = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = saved


def _chaoslib_check(path: Path, data: dict[str, Any]) -> None:
    with _quiet("chaostoolkit"):
        try:
            ensure_experiment_is_valid(data)
        except InvalidControl as exc:
            raise InputFileError(path, str(exc) or "invalid control", field="controls") from None
        except Exception as exc:  # any failure of a pure check is a refusal, never a traceback
            message = " ".join(str(exc).split()) or exc.__class__.__name__
            raise InputFileError(path, f"not a valid Chaos Toolkit experiment: {message}") from None
