"""What the gate runs against: the `Target` seam and its implementations.

- `LocalTarget`: the local embedded cluster with its data plane (environments whose gate.yaml
  says `target: local`).
- `RemoteTarget`: a cluster named by an allow-listed context (every other environment).
- `RehearsalTarget`: a local cluster of its own at an environment's declared shape, that
  environment's overlay, no data plane, modelled load (`rehearse`).
"""

from __future__ import annotations

from pathlib import Path

from aideon_resilience.core.config.gate import GateConfig
from aideon_resilience.core.config.shape import ClusterShape
from aideon_resilience.gate.load_handle import LoadSpec, RunningLoad
from aideon_resilience.gate.options import GateOptions
from aideon_resilience.gate.targets.base import Connection, Target
from aideon_resilience.gate.targets.local import LocalTarget
from aideon_resilience.gate.targets.rehearsal import RehearsalTarget
from aideon_resilience.gate.targets.remote import RemoteTarget
from aideon_resilience.settings import Settings

__all__ = ["Connection", "LoadSpec", "LocalTarget", "RehearsalTarget", "RemoteTarget", "RunningLoad", "Target",
           "target_for"]


def target_for(opts: GateOptions, env_dir: Path, config: GateConfig, shape: ClusterShape,
               settings: Settings) -> Target:
    """The target an environment's gate.yaml declares."""
    if config.target == "local":
        return LocalTarget(opts.manifests, env_dir, shape, settings, overlay=opts.overlay, context=opts.context,
                           gateway_url=opts.gateway_url)
    return RemoteTarget(opts.env, opts.context, opts.gateway_url, opts.overlay, settings, manifests=opts.manifests)
