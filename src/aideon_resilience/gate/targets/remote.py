"""A cluster named by an allow-listed context: staging, production, or any cluster a user runs.

Nothing of the platform is deployed; the gate reaches the cluster through KUBECONFIG (or, as
`in-cluster`, the pod's service account) and the gateway through a loopback URL the user gives (a
port-forward) for the experiments. The load comes from the in-cluster load generator
(`manifests/loadgen/`, `gate.loadgen`) at the plan's worker count, scaled to zero at the end.
There is no node control beyond the Kubernetes API and no data plane evidence.
"""

from __future__ import annotations

from pathlib import Path

from aideon_resilience.adapters.kube.client import check_reachable
from aideon_resilience.adapters.kustomize import build
from aideon_resilience.core.evidence.timeline import TimelineEvent
from aideon_resilience.core.plan.capacity import load_capacity
from aideon_resilience.errors import InputFileError, SafetyRefusal
from aideon_resilience.gate.load_handle import LoadSpec, RunningLoad, locust_environment
from aideon_resilience.gate.loadgen import KubectlLoadgenApi, LoadgenApi, start_in_cluster
from aideon_resilience.gate.options import Progress
from aideon_resilience.gate.targets.base import Connection, require_allowed
from aideon_resilience.settings import Settings

IN_CLUSTER = "in-cluster"


class RemoteTarget:
    def __init__(self, env: str, context: str | None, gateway_url: str | None, overlay: Path | None,
                 settings: Settings, manifests: Path = Path("manifests"),
                 loadgen_api: LoadgenApi | None = None) -> None:
        self.env = env
        self.manifests = manifests
        self.loadgen_api = loadgen_api  # None: kubectl on the connection's context
        self.kubeconfig: Path | None = None
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
        if not (self.manifests / "loadgen" / "kustomization.yaml").is_file():
            raise InputFileError(self.manifests / "loadgen", "--manifests: no load generator (kustomization.yaml)")
        if not (self.context == IN_CLUSTER and self.settings.kubeconfig is None):
            check_reachable(self.settings.kubeconfig_file, self.context)

    def provision(self, progress: Progress) -> Connection:
        kubeconfig = self.settings.kubeconfig
        if self.context == IN_CLUSTER and kubeconfig is None:
            return Connection(None, self.context, self.gateway_url)  # the pod's service account
        path = self.settings.kubeconfig_file
        if not path.is_file():
            raise InputFileError(path, "KUBECONFIG: no such kubeconfig")
        self.kubeconfig = path
        return Connection(path, self.context, self.gateway_url)

    def chaos_env(self) -> dict[str, str]:
        return {}

    def start_load(self, spec: LoadSpec, progress: Progress) -> RunningLoad | None:
        """The in-cluster load generator at gate.yaml's worker count (the plan's for `auto`)."""
        if not spec.load.enabled:
            return None
        api = self.loadgen_api or KubectlLoadgenApi(self.kubeconfig, self.context or None)
        load = start_in_cluster(api, build(self.manifests / "loadgen"), spec.load, load_capacity(), spec.env,
                                spec.run_seconds, spec.run_dir, spec.windows_file, progress,
                                kubeconfig=self.kubeconfig, context=self.context)
        load.users, load.warmup_s, load.env = spec.load.users, spec.load.warmup_seconds, locust_environment(spec)
        return load

    def evidence(self, started: float, ended: float) -> list[TimelineEvent]:
        return []

    def release(self, progress: Progress) -> None:
        return None  # nothing of the platform was deployed
