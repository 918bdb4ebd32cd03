"""Chaos Toolkit probes of the Aideon extension; each returns a dict with an ``ok`` flag."""

from __future__ import annotations

from aideon_resilience.chaos.probes.affinity import anti_affinity_held
from aideon_resilience.chaos.probes.client import client_slo
from aideon_resilience.chaos.probes.hpa import hpa_reaches, hpa_status
from aideon_resilience.chaos.probes.pdb import pdb_held, pdb_status
from aideon_resilience.chaos.probes.proxy import proxy_ejections
from aideon_resilience.chaos.probes.tolerance import held
from aideon_resilience.chaos.probes.workload import wait_workload_ready, workload_ready

__all__ = [
    "anti_affinity_held",
    "client_slo",
    "held",
    "hpa_reaches",
    "hpa_status",
    "pdb_held",
    "pdb_status",
    "proxy_ejections",
    "wait_workload_ready",
    "workload_ready",
]
