"""Where the local cluster keeps its binaries and state: a cache outside the repository."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aideon_resilience.settings import settings

CLUSTER_NAME = "aideon"
CONTEXT = f"kwok-{CLUSTER_NAME}"
REHEARSAL_CLUSTER_NAME = "aideon-rehearsal"  # the cluster `rehearse` brings up at an environment's shape
REHEARSAL_CONTEXT = f"kwok-{REHEARSAL_CLUSTER_NAME}"
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ClusterPaths:
    """Files of one local cluster under the cache."""

    name: str = CLUSTER_NAME
    root: Path | None = None

    @property
    def cache(self) -> Path:
        return self.root if self.root is not None else settings().cache_dir

    @property
    def bin(self) -> Path:
        return self.cache / "bin"

    @property
    def kwok_workdir(self) -> Path:
        return self.cache / "kwok"

    @property
    def cluster_dir(self) -> Path:
        return self.kwok_workdir / "clusters" / self.name

    @property
    def kubeconfig(self) -> Path:
        return self.cluster_dir / "kubeconfig.yaml"

    @property
    def pids(self) -> Path:
        return self.cluster_dir / "pids"

    @property
    def config_file(self) -> Path:
        """The configuration we hand to kwokctl (written before create)."""
        return self.cache / f"{self.name}-kwokctl.yaml"

    @property
    def context(self) -> str:
        return f"kwok-{self.name}"
