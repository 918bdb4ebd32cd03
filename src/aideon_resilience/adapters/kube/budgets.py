"""Waiting for the platform to be steady: every PodDisruptionBudget has its desired healthy pods."""

from __future__ import annotations

import time

from kubernetes import client

from aideon_resilience.errors import InfrastructureError


def short_budgets(api: client.ApiClient) -> list[str]:
    """`namespace/name` of every PDB with fewer healthy pods than it desires."""
    policy = client.PolicyV1Api(api)
    return [
        f"{p.metadata.namespace}/{p.metadata.name}"
        for p in policy.list_pod_disruption_budget_for_all_namespaces().items
        if p.status is None or (p.status.current_healthy or 0) < (p.status.desired_healthy or 0)
    ]


def wait_budgets_healthy(api: client.ApiClient, timeout: float, poll: float = 2.0) -> None:
    """Returns once no budget is short; InfrastructureError naming one that stayed short."""
    deadline = time.monotonic() + timeout
    short: list[str] = []
    while time.monotonic() < deadline:
        short = short_budgets(api)
        if not short:
            return
        time.sleep(poll)
    raise InfrastructureError(f"the platform is not steady: {len(short)} disruption budget(s) short, e.g. {short[0]}")
