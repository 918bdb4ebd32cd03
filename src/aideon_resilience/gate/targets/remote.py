"""A cluster named by an allow-listed context: staging, production, or any cluster a user runs.

Nothing is deployed; the gate reaches the cluster through KUBECONFIG (or, as `in-cluster`, the
pod's service account) and the gateway through a loopback URL the user gives (a port-forward).
There is no node control beyond the Kubernetes API and no data plane evidence.
"""

from __future__ import annotations

from pathlib import Path

from aideon_resilience.core.timeline import TimelineEvent
from aideon_resilience.errors import InputFileError, SafetyRefusal
from aideon_resilience.gate.options import Progress
from aideon_resilience.gate.targets.base import Connection, require_allowed
from aideon_resilience.settings import Settings

IN_CLUSTER = "in-cluster"


class RemoteTarget:
    def __init__(self, env: str, context: str | None, gateway_url: str | None, overlay: Path | None,
                 settings: Settings) -> None:
        self.env = env
        self.requested_context = context
        self.gateway_url = gateway_url
        self.overlay = overlay
        self.settings = settings

    @property
    def context(self) -> str:
        return self.requested_context or ""

    def check(self) -> None:
        if self.overlay is not None:
            raise SafetyRefusal("--overlay: only the local environment may be deployed from another overlay")
        if not self.requested_context:
            raise SafetyRefusal(f"--env {self.env}: name the cluster with --context (nothing was changed)")
        require_allowed(self.context, self.settings)
        if not self.gateway_url:
            raise SafetyRefusal(f"--env {self.env}: set AIDEON_GATEWAY_URL to the gateway the load may target")

    def provision(self, progress: Progress) -> Connection:
        kubeconfig = self.settings.kubeconfig
        if self.context == IN_CLUSTER and kubeconfig is None:
            return Connection(None, self.context, self.gateway_url)  # the pod's service account
        path = self.settings.kubeconfig_file
        if not path.is_file():
            raise InputFileError(path, "KUBECONFIG: no such kubeconfig")
        return Connection(path, self.context, self.gateway_url)

    def chaos_env(self) -> dict[str, str]:
        return {}

    def evidence(self, started: float, ended: float) -> list[TimelineEvent]:
        return []
