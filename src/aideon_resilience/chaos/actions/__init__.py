"""Chaos Toolkit actions of the Aideon extension (one module per resource)."""

from __future__ import annotations

from aideon_resilience.chaos.actions.backend import fail_backend, recover_backend
from aideon_resilience.chaos.actions.drain import DrainTimedOut, drain_nodes, uncordon_nodes
from aideon_resilience.chaos.actions.load import start_load, start_surge, stop_load
from aideon_resilience.chaos.actions.node_loss import lose_nodes, recover_nodes, recover_zone, zone_outage
from aideon_resilience.chaos.actions.pods import kill_pods
from aideon_resilience.chaos.actions.rollout import rollout_restart, undo_rollout

__all__ = [
    "DrainTimedOut",
    "drain_nodes",
    "fail_backend",
    "kill_pods",
    "lose_nodes",
    "recover_backend",
    "recover_nodes",
    "recover_zone",
    "rollout_restart",
    "start_load",
    "start_surge",
    "stop_load",
    "uncordon_nodes",
    "undo_rollout",
    "zone_outage",
]
