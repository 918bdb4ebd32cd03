"""The local data plane of the embedded cluster: stand-in processes for pods, HAProxy, Prometheus.

`stop_dataplane(paths)` and `dataplane_env_lines(paths)` are what `cluster down` and `cluster env`
call; `ensure_deployed(manifests, overlay)` (apply + data plane, returns the gateway URL) is what
`deploy --env local` and the gate call.
"""

from aideon_resilience.adapters.dataplane.control import (
    dataplane_env_lines,
    dataplane_state,
    start_dataplane,
    stop_dataplane,
)
from aideon_resilience.adapters.dataplane.deploy import deploy_overlay, ensure_deployed
from aideon_resilience.adapters.dataplane.state import (
    DataPlaneOptions,
    DataPlaneState,
    dataplane_events,
    default_workdir,
)

__all__ = [
    "DataPlaneOptions",
    "DataPlaneState",
    "dataplane_env_lines",
    "dataplane_events",
    "dataplane_state",
    "default_workdir",
    "deploy_overlay",
    "ensure_deployed",
    "start_dataplane",
    "stop_dataplane",
]
