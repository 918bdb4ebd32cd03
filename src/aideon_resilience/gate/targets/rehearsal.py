"""The local cluster at an environment's declared shape, without a data plane: `rehearse`.

A cluster of its own (`aideon-rehearsal`, allow-listed like the local one: the harness starts
it) with the environment's node count, zones and allocatable from `cluster-shape.yaml`; storage
classes without a provisioner get simulated local volumes, and the classes of the cloud's CSI
driver get a volume per claim from the local provisioner standing in for that driver (KWOK nodes
cannot run it), zonal as the driver's would be; the environment's overlay is applied
server-side unchanged. No pod runs anything, so there is no gateway and no proxy: the load is
modelled (`gate.modelled_load`) and outlier detection is not rehearsed. The cluster is removed at
the end unless asked to keep it.
"""

from __future__ import annotations

from pathlib import Path

from kubernetes import client

from aideon_resilience.adapters.dataplane.deploy import deploy_overlay, render_all
from aideon_resilience.adapters.kube.client import api_client_for
from aideon_resilience.adapters.kube.volume_provisioner import BackgroundProvisioner, LocalVolumeProvisioner
from aideon_resilience.adapters.kube.volumes import (
    dynamic_provisioners,
    no_provisioner_classes,
    provision_local_volumes,
)
from aideon_resilience.adapters.localcluster import ClusterPaths, LocalCluster
from aideon_resilience.adapters.localcluster.nodes import NodeSize
from aideon_resilience.adapters.localcluster.paths import REHEARSAL_CLUSTER_NAME
from aideon_resilience.core.config.rehearsal import RehearsalConfig
from aideon_resilience.core.config.shape import ClusterShape
from aideon_resilience.core.evidence.timeline import TimelineEvent
from aideon_resilience.core.plan.bounds import bounds_from_objects
from aideon_resilience.core.plan.capacity import ClusterBounds, load_capacity
from aideon_resilience.gate.load_handle import LoadSpec, RunningLoad
from aideon_resilience.gate.modelled_load import ModelledLoad, plan_needs
from aideon_resilience.gate.options import Progress
from aideon_resilience.gate.targets.base import Connection, require_allowed
from aideon_resilience.settings import Settings

CLUSTER_UP_TIMEOUT_S = 900


class RehearsalTarget:
    """`rehearse --env E`: the real control plane at E's shape, E's manifests, modelled load."""

    def __init__(self, manifests: Path, env_dir: Path, shape: ClusterShape, rehearsal: RehearsalConfig,
                 settings: Settings, *, keep: bool = False, paths: ClusterPaths | None = None) -> None:
        self.manifests = manifests
        self.env_dir = env_dir
        self.shape = shape
        self.rehearsal = rehearsal
        self.settings = settings
        self.keep = keep
        self.paths = paths or ClusterPaths(name=REHEARSAL_CLUSTER_NAME)
        self._objects = render_all(manifests, env_dir)  # rendered once: also checks the overlay builds
        self._services = bounds_from_objects(self._objects[0], env_dir)
        self._provisioned = False
        self._volumes: BackgroundProvisioner | None = None

    @property
    def context(self) -> str:
        return self.paths.context

    def check(self) -> None:
        require_allowed(self.context, self.settings)

    def provision(self, progress: Progress) -> Connection:
        cluster = LocalCluster(self.paths, runtime_readiness=False)
        size = self.shape.node_allocatable
        progress(f"bringing up a cluster of {self.env_dir.name}'s shape: {self.shape.nodes} nodes in "
                 f"{self.shape.zone_count} zones, {size.cpu_millis}m CPU and {size.memory_mib} MiB each")
        self._provisioned = True
        cluster.up(nodes=self.shape.nodes, zones=self.shape.zone_count, progress=progress,
                   timeout=CLUSTER_UP_TIMEOUT_S, node_size=NodeSize.of(size.cpu_millis, size.memory_mib, size.pods))
        api = api_client_for(self.paths.kubeconfig, self.context)
        # before the overlay: its StatefulSets' claims must find their volumes when they are made
        provision_local_volumes(api, classes=no_provisioner_classes(self._objects[0]))
        self._start_volume_provisioner(api, progress)
        progress(f"applying the {self.env_dir.name} overlay unchanged (server-side)")
        deploy_overlay(self.manifests, self.env_dir, str(self.paths.kubeconfig), self.context,
                       self.rehearsal.deploy_timeout_seconds, progress=progress, rendered=self._objects,
                       replace_immutable=True)
        return Connection(self.paths.kubeconfig, self.context, None)

    def _start_volume_provisioner(self, api: client.ApiClient, progress: Progress) -> None:
        names = dynamic_provisioners(self._objects[0])
        if not names:
            return
        progress(f"provisioning the claims of {', '.join(sorted(names))} classes locally "
                 "(no CSI driver runs on KWOK nodes)")
        self._volumes = BackgroundProvisioner(
            LocalVolumeProvisioner(client.CoreV1Api(api), client.StorageV1Api(api), serves=names)
        ).start()

    def start_load(self, spec: LoadSpec, progress: Progress) -> RunningLoad | None:
        r = self.rehearsal
        cluster = ClusterBounds(self.env_dir.name, self.shape.nodes, self.shape.node_allocatable.cpu_millis,
                                self.shape.zone_count)
        capacity = load_capacity()
        surge = f", a surge to {r.surge_users:,} for {r.surge_seconds:g}s" if r.surge_users else ""
        progress(f"load (modelled, no request is sent): a ramp to {r.users:,} users over {r.ramp_seconds:g}s, "
                 f"held {r.hold_seconds:g}s{surge}, then held through the suite")
        api = api_client_for(self.paths.kubeconfig, self.context)
        return ModelledLoad(api, r.schedule(), lambda users: plan_needs(users, self._services, cluster, capacity),
                            spec.timeline, r.warmup_seconds).start()

    def chaos_env(self) -> dict[str, str]:
        return dict(self.rehearsal.experiment_env)

    def evidence(self, started: float, ended: float) -> list[TimelineEvent]:
        return []

    def release(self, progress: Progress) -> None:
        if self._volumes is not None:
            self._volumes.stop()
            self._volumes = None
        if self.keep or not self._provisioned:
            return
        progress(f"removing the rehearsal cluster {self.paths.name} (--keep keeps it)")
        LocalCluster(self.paths).down()
