"""Evaluate an environment's SLOs against a run's evidence; one module per SLO family."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aideon_resilience.core.evaluate._common import RunData
from aideon_resilience.core.evaluate.anti_affinity import evaluate_anti_affinity
from aideon_resilience.core.evaluate.client import evaluate_client
from aideon_resilience.core.evaluate.experiments import evaluate_experiments
from aideon_resilience.core.evaluate.gaps import discount_gaps
from aideon_resilience.core.evaluate.hpa import evaluate_hpa
from aideon_resilience.core.evaluate.outlier import evaluate_outlier
from aideon_resilience.core.evaluate.pdb import evaluate_pdb
from aideon_resilience.core.evaluate.plan_replicas import evaluate_plan_replicas
from aideon_resilience.core.evaluate.recovery import evaluate_recovery
from aideon_resilience.core.evaluate.rollout import evaluate_rollout
from aideon_resilience.core.evaluate.slo import SloFile
from aideon_resilience.core.evaluate.stateful import evaluate_stateful
from aideon_resilience.core.evaluate.verdict import SloResult, Verdict, build_verdict
from aideon_resilience.core.evaluate.zone_capacity import evaluate_zone_capacity
from aideon_resilience.core.evaluate.zone_outage import evaluate_zone_outage

__all__ = ["RunData", "evaluate", "evaluate_one"]

_EVALUATORS: dict[str, Callable[[Any, RunData, float], SloResult]] = {
    "client": evaluate_client,
    "hpa": evaluate_hpa,
    "pdb": evaluate_pdb,
    "anti_affinity": evaluate_anti_affinity,
    "outlier": evaluate_outlier,
    "recovery": evaluate_recovery,
    "rollout": evaluate_rollout,
    "stateful": evaluate_stateful,
    "experiments": evaluate_experiments,
    "plan_replicas": evaluate_plan_replicas,
    "zone_capacity": evaluate_zone_capacity,
    "zone_outage": evaluate_zone_outage,
}


def evaluate_one(slos: SloFile, index: int, data: RunData) -> SloResult:
    slo = slos.slos[index]
    return discount_gaps(_EVALUATORS[slo.family](slo, data, slos.warn_ratio_of(slo)), data)


def evaluate(slos: SloFile, data: RunData, run_id: str = "") -> Verdict:
    """Every SLO of the file, the weighted score and the overall verdict."""
    results = [evaluate_one(slos, i, data) for i in range(len(slos.slos))]
    return build_verdict(results, run_id=run_id, environment=slos.environment)
