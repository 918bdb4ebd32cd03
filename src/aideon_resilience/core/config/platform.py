"""The platform's per-environment configuration: the `aideon-config` ConfigMap that each
environment generates (`configMapGenerator`, one per tier namespace) and every service consumes
through `envFrom`.

One check serves both ends: the manifests' tests hold every rendered ConfigMap to it, and a
stand-in process refuses to start on a value it would not accept, so a wrong value in an overlay
shows up as a failing test and as a pod that never turns Ready.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from aideon_resilience.errors import UsageError

CONFIGMAP_NAME = "aideon-config"
ENVIRONMENTS = ("development", "staging", "production", "local")
LOG_LEVELS = ("debug", "info", "warning", "error")
KEYS = ("ENVIRONMENT", "LOG_LEVEL", "FEATURE_FLAGS")
_FLAG = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class PlatformConfig:
    environment: str
    log_level: str
    feature_flags: tuple[str, ...]


def platform_config(values: Mapping[str, str], source: str) -> PlatformConfig:
    """The configuration in `values` (a ConfigMap's data, or a process environment), or a one-line
    UsageError naming `source` and the key."""

    def bad(key: str, problem: str) -> UsageError:
        return UsageError(f"{source}: {key}: {problem}")

    for key in KEYS:
        if key not in values:
            raise bad(key, "missing")
    environment, level = values["ENVIRONMENT"], values["LOG_LEVEL"]
    if environment not in ENVIRONMENTS:
        raise bad("ENVIRONMENT", f"{environment!r} is not one of {', '.join(ENVIRONMENTS)}")
    if level not in LOG_LEVELS:
        raise bad("LOG_LEVEL", f"{level!r} is not one of {', '.join(LOG_LEVELS)}")
    raw_flags = values["FEATURE_FLAGS"].strip()
    flags = tuple(f.strip() for f in raw_flags.split(",")) if raw_flags else ()
    for flag in flags:
        if not _FLAG.fullmatch(flag):
            raise bad("FEATURE_FLAGS", f"{flag!r} is not a flag name (lower case, digits and '-', comma separated)")
    if len(set(flags)) != len(flags):
        raise bad("FEATURE_FLAGS", "a flag is listed twice")
    return PlatformConfig(environment, level, flags)
