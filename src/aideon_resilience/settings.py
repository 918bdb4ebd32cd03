"""Every environment variable the harness reads: name, type, default and meaning, in one place.

This module is the only reader of the process environment (a test holds the rest of the package
to it). Code asks `Settings` for a declared variable by name and gets a typed value; an
undeclared name is a programming error, a malformed value is a one-line usage error naming the
variable. `docs/settings.md` is generated from `VARIABLES` (`python -m aideon_resilience.settings`)
and a test keeps the two equal.

Some variables are read by the Chaos Toolkit experiments' `configuration` blocks (`"type":
"env"`) or handed by the gate to the processes it starts; they are declared here too, so one
table says everything a user or the gate can set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aideon_resilience.errors import UsageError

Kind = Literal["text", "path", "url", "integer", "number", "flag", "list"]
Reader = Literal["harness", "gate", "experiments", "locustfile", "tests"]


@dataclass(frozen=True)
class Variable:
    name: str
    kind: Kind
    default: str | None
    meaning: str
    read_by: Reader = "harness"


def _v(name: str, kind: Kind, default: str | None, meaning: str, read_by: Reader = "harness") -> Variable:
    return Variable(name, kind, default, meaning, read_by)


VARIABLES: tuple[Variable, ...] = (
    # --- where things live --------------------------------------------------------------------
    _v("AIDEON_CACHE_DIR", "path", "~/.cache/aideon-resilience",
       "Built binaries, the local cluster's state and the data plane's working files."),
    _v("AIDEON_STATE_DIR", "path", "~/.local/state/aideon-resilience",
       "Undo logs of chaos runs started outside a gate (`rollback` replays them)."),
    _v("AIDEON_UNDO_DIR", "path", None,
       "The undo log of this chaos run (the gate points it into the run directory)."),
    _v("KUBECONFIG", "path", "~/.kube/config", "The kubeconfig of a cluster named by a context (first entry used)."),
    _v("KUBERNETES_CONTEXT", "text", None, "Context the chaos extension acts on when the experiment names none."),
    _v("CHAOSTOOLKIT_IN_POD", "flag", None, "`true` inside the chaos-runner Job: use the pod's service account."),
    _v("AIDEON_HAPROXY", "path", "/usr/sbin/haproxy", "HAProxy binary of the local data plane."),
    _v("AIDEON_PROMETHEUS", "path", "/usr/bin/prometheus", "Prometheus binary of the local data plane."),
    # --- safety -------------------------------------------------------------------------------
    _v("AIDEON_CHAOS_ALLOWED_CONTEXTS", "list", "",
       "Kube contexts besides the local cluster's that the gate and the chaos extension may break."),
    _v("AIDEON_CHAOS_MAX_POD_SHARE", "number", "0.5", "Largest share of a workload's pods one action may hit."),
    _v("AIDEON_CHAOS_MAX_NODE_SHARE", "number", "0.34", "Largest share of the nodes one action may hit."),
    _v("AIDEON_CHAOS_MAX_USERS", "integer", "500", "Most Locust users a chaos action may start."),
    _v("AIDEON_CHAOS_MAX_LOAD_SECONDS", "integer", "900", "Longest Locust run a chaos action may start."),
    _v("AIDEON_ALLOW_REMOTE_TARGET", "flag", None,
       "`1` lets a locustfile load a non-loopback gateway on purpose (refused otherwise)."),
    # --- the gate and the processes it starts -------------------------------------------------
    _v("AIDEON_GATEWAY_URL", "url", None,
       "The gateway the load targets (loopback; a port-forward for a remote cluster).", "gate"),
    _v("AIDEON_CHAOS_RUN_ID", "text", None, "Run id the chaos extension files its undo log under.", "gate"),
    _v("AIDEON_CHAOS_EVIDENCE_FILE", "path", None,
       "Where actions append live evidence (timeline events); default beside the undo log.", "gate"),
    _v("AIDEON_WINDOWS_FILE", "path", None, "Where Locust writes its windowed statistics (JSON lines).", "gate"),
    _v("AIDEON_LOCUSTFILE", "path", "loadtests/gateway.py", "Locustfile chaos load actions run.", "gate"),
    _v("AIDEON_LOAD_EXTERNAL", "flag", None,
       "`1`: the gate runs the load; the experiments' load control only reads it.", "gate"),
    _v("AIDEON_BACKEND_ADMIN_URL", "url", None,
       "Admin endpoint of the backend the outlier experiment breaks (loopback).", "experiments"),
    _v("AIDEON_PROXY_STATS_URL", "url", None, "The local proxy's CSV stats (loopback).", "experiments"),
    _v("AIDEON_PROXY_BACKEND", "text", None, "The proxy backend the outlier probes read.", "experiments"),
    # --- load (locustfile and the experiments' load control) ----------------------------------
    _v("AIDEON_ENV", "text", "local",
       "Environment whose gate.yaml `load` the locustfile's shapes run when the gate hands no figures.",
       "locustfile"),
    _v("AIDEON_SHAPE", "text", "none", "Load shape: ramp, surge or none.", "locustfile"),
    _v("AIDEON_TARGET_USERS", "integer", None, "Users the shape drives to (gate.yaml `load.users`).", "locustfile"),
    _v("AIDEON_SPAWN_RATE", "number", None,
       "Users started per second, all workers together (gate.yaml `load.spawn_rate`).", "locustfile"),
    _v("AIDEON_SHAPE_SECONDS", "integer", None,
       "How long a ramp runs in all; it holds its users until then (the gate's bound).", "locustfile"),
    _v("AIDEON_RAMP_STAGES", "list", None, "Shares of the users the ramp climbs to (gate.yaml `load.ramp.stages`).",
       "locustfile"),
    _v("AIDEON_RAMP_HOLD_SECONDS", "number", None, "Hold at each ramp stage (gate.yaml `load.ramp.hold_seconds`).",
       "locustfile"),
    _v("AIDEON_SURGE_BASE", "integer", None, "Users before and after a surge shape's peak.", "locustfile"),
    _v("AIDEON_SURGE_PEAK", "integer", None, "Users at a surge shape's peak.", "locustfile"),
    _v("AIDEON_SURGE_PHASES", "text", None, "WARM,SURGE,COOL seconds of a surge shape (gate.yaml `load.surge`).",
       "locustfile"),
    _v("AIDEON_SURGE_SECONDS", "integer", "120", "Length of the load-surge experiment's surge.", "experiments"),
    _v("AIDEON_THINK_TIME", "text", "1,3", "MIN,MAX seconds between a user's requests.", "locustfile"),
    _v("AIDEON_WINDOW_SECONDS", "number", "5", "Length of one statistics window.", "locustfile"),
    _v("AIDEON_MAX_ERROR_RATIO", "number", None, "Client threshold: error ratio that fails Locust.", "locustfile"),
    _v("AIDEON_MAX_P95_MS", "number", None, "Client threshold: p95 latency that fails Locust.", "locustfile"),
    _v("AIDEON_MAX_P99_MS", "number", None, "Client threshold: p99 latency that fails Locust.", "locustfile"),
    _v("AIDEON_LOAD_USER_PREFIX", "text", "loadtest-user", "User names the journeys log in with.", "locustfile"),
    _v("AIDEON_LOAD_PASSWORD", "text", None, "Password of the load users (a secret).", "locustfile"),
    _v("AIDEON_LOAD_USERS", "integer", "50", "Users of an experiment's own base load.", "experiments"),
    _v("AIDEON_LOAD_SPAWN_RATE", "number", "10", "Spawn rate of an experiment's own base load.", "experiments"),
    _v("AIDEON_LOAD_MAX_SECONDS", "integer", "600", "Bound of an experiment's own base load.", "experiments"),
    _v("AIDEON_LOAD_WARMUP_SECONDS", "number", "30", "Warm-up before an experiment's method.", "experiments"),
    # --- the stand-in services ----------------------------------------------------------------
    _v("AIDEON_UPSTREAM_<SERVICE>", "url", None,
       "Loopback URL of the upstream a stand-in calls (the data plane sets one per upstream)."),
    _v("AIDEON_POD_NAME", "text", None, "The pod a stand-in process serves for (set by the data plane)."),
    _v("AIDEON_POD_NAMESPACE", "text", None, "Namespace of that pod (set by the data plane)."),
    _v("CI", "flag", None, "Set by CI runners: the gate prints plain progress lines instead of a live display."),
    # --- tests --------------------------------------------------------------------------------
    _v("AIDEON_KEEP_CLUSTER", "flag", None, "`1`: the test session leaves the local cluster running.", "tests"),
)

BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}
UPSTREAM_PREFIX = "AIDEON_UPSTREAM_"


def declared(name: str) -> Variable:
    if name.startswith(UPSTREAM_PREFIX):
        return BY_NAME["AIDEON_UPSTREAM_<SERVICE>"]
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name} is not declared in aideon_resilience.settings.VARIABLES") from None


def _bad(name: str, raw: str, expected: str) -> UsageError:
    return UsageError(f"environment: {name}: {expected}, got {raw!r}")


class Settings:
    """Typed reads of the declared variables from one environment mapping (default: the process's)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        """The value as set, or None when unset or blank."""
        declared(name)
        value = self._environ.get(name)
        return value if value is not None and value.strip() else None

    def text(self, name: str) -> str | None:
        value = self.raw(name)
        default = declared(name).default
        return value.strip() if value is not None else default

    def path(self, name: str) -> Path | None:
        value = self.text(name)
        return None if value is None else Path(value.split(os.pathsep)[0]).expanduser()

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return int(value.replace("_", ""))
        except ValueError:
            raise _bad(name, value, "expected a whole number") from None

    def number(self, name: str) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            raise _bad(name, value, "expected a number") from None

    def flag(self, name: str) -> bool:
        value = self.text(name)
        return value is not None and value.lower() not in ("0", "false", "no", "")

    def names(self, name: str) -> list[str]:
        value = self.text(name) or ""
        return [part.strip() for part in value.split(",") if part.strip()]

    def upstreams(self) -> dict[str, str]:
        """`AIDEON_UPSTREAM_<SERVICE>` values by variable name."""
        return {k: v for k, v in self._environ.items() if k.startswith(UPSTREAM_PREFIX) and v.strip()}

    # the variables the gate and the local cluster read most, by name
    @property
    def cache_dir(self) -> Path:
        value = self.path("AIDEON_CACHE_DIR")
        assert value is not None  # it has a default
        return value

    @property
    def kubeconfig(self) -> Path | None:
        return self.path("KUBECONFIG") if self.raw("KUBECONFIG") else None

    @property
    def gateway_url(self) -> str | None:
        return self.text("AIDEON_GATEWAY_URL")

    @property
    def allowed_contexts(self) -> list[str]:
        return self.names("AIDEON_CHAOS_ALLOWED_CONTEXTS")


def settings() -> Settings:
    """The settings of the running process (read when asked, not at import)."""
    return Settings()


def markdown_table() -> str:
    """The table `docs/settings.md` holds."""
    lines = ["| variable | type | default | read by | meaning |", "|---|---|---|---|---|"]
    for v in VARIABLES:
        default = f"`{v.default}`" if v.default else "(unset)"
        lines.append(f"| `{v.name}` | {v.kind} | {default} | {v.read_by} | {v.meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
