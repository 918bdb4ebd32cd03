"""Chaos Toolkit actions of the Aideon extension (one module per resource)."""

from __future__ import annotations

from aideon_resilience.chaos.actions.backend import fail_backend, fail_pod_backends, recover_backend
from aideon_resilience.chaos.actions.canary import end_canary, route_back, route_to_canary, start_canary
from aideon_resilience.chaos.actions.drain import DrainTimedOut, drain_nodes, uncordon_nodes
from aideon_resilience.chaos.actions.load import start_load, start_surge, stop_load
from aideon_resilience.chaos.actions.node_loss import lose_nodes, recover_nodes, recover_zone, zone_outage
from aideon_resilience.chaos.actions.pods import kill_pods
from aideon_resilience.chaos.actions.rollout import rollout_restart, undo_rollout

__all__ = [
    "DrainTimedOut",
    "drain_nodes",
    "end_canary",
    "fail_backend",
    "fail_pod_backends",
    "kill_pods",
    "lose_nodes",
    "recover_backend",
    "recover_nodes",
    "recover_zone",
    "rollout_restart",
    "route_back",
    "route_to_canary",
    "start_canary",
    "start_load",
    "start_surge",
    "stop_load",
    "uncordon_nodes",
    "undo_rollout",
    "zone_outage",
]
