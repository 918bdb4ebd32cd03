"""Load control: bounded Locust load for the experiment's duration.

When ``AIDEON_GATEWAY_URL`` (a loopback URL) is set, a headless Locust run starts before the
experiment and is stopped after it. Users, spawn rate and the run-time bound come from
``AIDEON_LOAD_USERS`` (50), ``AIDEON_LOAD_SPAWN_RATE`` (10), ``AIDEON_LOAD_MAX_SECONDS`` (600);
the locustfile from ``AIDEON_LOCUSTFILE`` (loadtests/gateway.py); the windows file the
client probes read from ``AIDEON_WINDOWS_FILE`` (default: windows.jsonl in the run's undo
directory). It waits up to ``AIDEON_LOAD_WARMUP_SECONDS`` (30) for the first window.
With ``AIDEON_LOAD_EXTERNAL=1`` (the gate runs one Locust run for the whole suite) it starts
nothing and the probes read the caller's windows file. Place it after the safety control.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from chaoslib.exceptions import InterruptExecution

from aideon_resilience.chaos import undo
from aideon_resilience.chaos.actions import load as load_actions
from aideon_resilience.errors import UsageError
from aideon_resilience.settings import export, settings

logger = logging.getLogger("chaostoolkit")

_state: dict[str, Any] = {}


def before_experiment_control(context: Any, **kwargs: Any) -> None:
    _state.clear()
    env = settings()
    url = env.gateway_url
    if not url:
        logger.info("aideon load: AIDEON_GATEWAY_URL not set, no load during this experiment")
        return
    try:  # a control's other errors are only logged: a malformed variable must stop the experiment
        external = env.flag("AIDEON_LOAD_EXTERNAL")
    except UsageError as exc:
        raise InterruptExecution(f"aideon load control: {exc}") from None
    if external:
        logger.info("aideon load: AIDEON_LOAD_EXTERNAL is set, the caller runs the load (not started here)")
        return
    if env.text("AIDEON_WINDOWS_FILE") is None:
        # the client probes of this process read the same file the Locust run writes
        export("AIDEON_WINDOWS_FILE", str(undo.current().directory / "windows.jsonl"))
        _state["set_windows_env"] = True
    windows = env.path_value("AIDEON_WINDOWS_FILE")
    try:
        warmup = env.float_value("AIDEON_LOAD_WARMUP_SECONDS")
        started = load_actions.start_load(
            url,
            users=env.int_value("AIDEON_LOAD_USERS"),
            spawn_rate=env.float_value("AIDEON_LOAD_SPAWN_RATE"),
            duration=env.int_value("AIDEON_LOAD_MAX_SECONDS"),
        )
    except Exception as exc:
        raise InterruptExecution(f"aideon load control could not start Locust: {exc}") from None
    _state["started"] = started
    logger.info(f"aideon load: Locust pid {started['pid']} with {started['users']} users against {url}")
    deadline = time.time() + warmup
    while time.time() < deadline and not (windows.is_file() and windows.stat().st_size > 0):
        time.sleep(0.5)
    if not (windows.is_file() and windows.stat().st_size > 0):
        logger.warning(f"aideon load: no load window written to {windows} after {warmup:g}s")


def after_experiment_control(context: Any, state: Any = None, **kwargs: Any) -> None:
    if _state.pop("set_windows_env", False):
        export("AIDEON_WINDOWS_FILE", None)
    if "started" not in _state:
        return
    stopped = load_actions.stop_load()
    if isinstance(state, dict):
        state["aideon_load"] = {"started": _state["started"], **stopped}
