"""The gate: the application layer that ties a run together.

`prepare` validates every input and safety guard before anything changes; a `Target` (the
local embedded cluster with its data plane, or a cluster named by a context) is brought to the
point where load and chaos can start; `run_gate` then runs the load, the chaos suite and the
sampler, merges the evidence into the timeline and renders the verdict. The gate body knows no
environment by name: what differs between targets lives behind `gate.targets.Target`.
"""

from aideon_resilience.gate.options import GateOptions
from aideon_resilience.gate.run import run_gate
from aideon_resilience.gate.status import RunStatus

__all__ = ["GateOptions", "RunStatus", "run_gate"]
