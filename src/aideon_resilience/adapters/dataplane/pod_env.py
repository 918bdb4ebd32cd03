"""A pod's container environment as the kubelet builds it, for the pod's stand-in process.

What the kubelet does, for what the platform's containers use (first container only):
- `envFrom` ConfigMaps first, in order, each key with the source's `prefix`; a key that is not a
  valid variable name is skipped. A missing ConfigMap that is not `optional` stops the container
  from starting (the kubelet's CreateContainerConfigError) until it exists.
- then `env`, whose entries override: a `value`, where `$(NAME)` expands to a variable defined
  before it (unknown references stay as written, `$$` is a literal `$`); a `fieldRef` to the
  pod's `metadata.name`, `metadata.namespace` or `spec.nodeName`.
- Secrets and resource fields are left out: the stand-in needs neither, and no secret value
  reaches a local process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aideon_resilience.errors import ClusterError

_VALID_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_REFERENCE = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")
FIELD_PATHS = ("metadata.name", "metadata.namespace", "spec.nodeName")


class MissingConfigMap(ClusterError):
    """A ConfigMap the container needs (not optional) does not exist (yet)."""


@dataclass(frozen=True)
class ConfigMapSource:
    name: str
    optional: bool = False
    prefix: str = ""


@dataclass(frozen=True)
class EnvEntry:
    name: str
    value: str | None = None  # a literal value (may reference earlier variables)
    field_path: str | None = None  # or a field of the pod


@dataclass(frozen=True)
class ContainerEnv:
    sources: tuple[ConfigMapSource, ...] = ()
    entries: tuple[EnvEntry, ...] = ()


def container_env(pod: Any) -> ContainerEnv:
    """The environment spec of a V1Pod's first container."""
    containers = (pod.spec.containers if pod.spec else None) or []
    if not containers:
        return ContainerEnv()
    c = containers[0]
    sources = tuple(
        ConfigMapSource(e.config_map_ref.name, bool(e.config_map_ref.optional), e.prefix or "")
        for e in c.env_from or [] if e.config_map_ref is not None
    )
    entries: list[EnvEntry] = []
    for e in c.env or []:
        if e.value_from is None:
            entries.append(EnvEntry(e.name, value=e.value or ""))
        elif e.value_from.field_ref is not None:
            entries.append(EnvEntry(e.name, field_path=e.value_from.field_ref.field_path))
    return ContainerEnv(sources, tuple(entries))


def _expand(value: str, defined: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return defined.get(m.group(1), m.group(0))

    return _REFERENCE.sub(one, value)


def resolve(spec: ContainerEnv, configmap: Callable[[str], Mapping[str, str] | None],
            fields: Mapping[str, str]) -> dict[str, str]:
    """The variables of `spec`; `configmap(name)` gives a ConfigMap's data, None when it does not exist."""
    env: dict[str, str] = {}
    for source in spec.sources:
        data = configmap(source.name)
        if data is None:
            if source.optional:
                continue
            raise MissingConfigMap(f"configmap {source.name!r} not found")
        for key, value in data.items():
            name = source.prefix + key
            if _VALID_NAME.fullmatch(name):
                env[name] = value
    for entry in spec.entries:
        if entry.field_path is not None:
            if entry.field_path in fields:
                env[entry.name] = fields[entry.field_path]
        else:
            env[entry.name] = _expand(entry.value or "", env)
    return env
