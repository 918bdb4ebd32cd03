"""The seam between the gate and what it runs against.

A target knows how to be made ready (bring a cluster up, deploy, start a data plane, or
nothing at all), where the gate reaches it (kubeconfig, context, gateway URL), what an
experiment needs to know about it right before it runs, and what evidence only it can give
(the local proxy's ejections). The gate body calls these and nothing else that differs between
targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aideon_resilience.chaos.guard import allowed_contexts
from aideon_resilience.core.evidence.timeline import TimelineEvent
from aideon_resilience.errors import SafetyRefusal
from aideon_resilience.gate.load_handle import LoadSpec, RunningLoad
from aideon_resilience.gate.options import Progress
from aideon_resilience.settings import Settings


@dataclass(frozen=True)
class Connection:
    """Where the gate reaches a ready target."""

    kubeconfig: Path | None  # None: the pod's service account (in-cluster)
    context: str
    gateway_url: str | None  # None: the suite runs without client traffic


class Target(Protocol):
    """One kind of cluster the gate can run against."""

    @property
    def context(self) -> str:
        """The kube context the gate and the experiments act on (already allow-listed)."""
        ...

    def check(self) -> None:
        """Refuse (SafetyRefusal, InputFileError) before anything changes; the context is allow-listed."""
        ...

    def provision(self, progress: Progress) -> Connection:
        """Make the target ready for load and chaos; returns where to reach it."""
        ...

    def chaos_env(self) -> dict[str, str]:
        """Environment for one experiment, resolved right before it runs."""
        ...

    def start_load(self, spec: LoadSpec, progress: Progress) -> RunningLoad | None:
        """Start the run's load and return once it runs (None: the suite runs without load)."""
        ...

    def evidence(self, started: float, ended: float) -> list[TimelineEvent]:
        """Timeline lines only this target records (e.g. proxy ejections) between two instants."""
        ...

    def release(self, progress: Progress) -> None:
        """Give back what `provision` took that must not outlive the run (nothing for most)."""
        ...


def require_allowed(context: str, settings: Settings) -> None:
    """The gate breaks only allow-listed contexts (the chaos extension checks the same list)."""
    if context not in allowed_contexts(settings):
        raise SafetyRefusal(
            f"--context {context}: not allow-listed; add it to AIDEON_CHAOS_ALLOWED_CONTEXTS to let "
            "the gate break it (nothing was changed)"
        )
