"""Every environment variable the harness reads: name, type, default and meaning, in one place.

This module is the only reader of the process environment (a test holds the rest of the package
to it). Code asks `Settings` for a declared variable by name and gets a typed value; an
undeclared name is a programming error, a malformed value is a one-line usage error naming the
variable. A child process gets a copy of the environment through `Settings.child_environment`;
`export` sets a variable for this process and its children. `docs/settings.md` is generated from
`VARIABLES` (`make settings-doc`, i.e. `python -m aideon_resilience.settings > docs/settings.md`)
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
from typing import Literal, TypeVar

from aideon_resilience.errors import UsageError

Kind = Literal["text", "path", "url", "integer", "number", "flag", "list"]
# who reads it: the harness's own code, the gate (handed to the processes it starts), the Chaos
# Toolkit experiments' configuration, the locustfile, the shell scripts, the test suite, or you
# (a variable the harness exports for your shell and never reads)
Reader = Literal["harness", "gate", "experiments", "locustfile", "scripts", "tests", "you"]


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
    _v("CHAOSTOOLKIT_IN_POD", "text", None,
       "Exactly `true` inside the chaos-runner Job: use the pod's service account."),
    _v("AIDEON_HAPROXY", "path", None,
       "HAProxy binary of the local data plane (unset: `/usr/sbin/haproxy`, else `/usr/bin/haproxy`)."),
    _v("AIDEON_PROMETHEUS", "path", None,
       "Prometheus binary of the local data plane (unset: `/usr/bin/prometheus`, else `/usr/sbin/prometheus`)."),
    _v("AIDEON_PREREQ_PACKAGES", "list", "haproxy prometheus chromium shellcheck",
       "Debian packages `make` checks for and installs (space separated; set empty to skip them).", "scripts"),
    # --- safety -------------------------------------------------------------------------------
    _v("AIDEON_CHAOS_ALLOWED_CONTEXTS", "list", "",
       "Kube contexts besides the local cluster's that the gate and the chaos extension may break."),
    _v("AIDEON_CHAOS_MAX_POD_SHARE", "number", "0.5", "Largest share of a workload's pods one action may hit."),
    _v("AIDEON_CHAOS_MAX_NODE_SHARE", "number", "0.34", "Largest share of the nodes one action may hit."),
    _v("AIDEON_CHAOS_MAX_USERS", "integer", "500", "Most Locust users a chaos action may start."),
    _v("AIDEON_CHAOS_MAX_LOAD_SECONDS", "integer", "900", "Longest Locust run a chaos action may start."),
    _v("AIDEON_ALLOW_REMOTE_TARGET", "text", None,
       "Exactly `1` lets a locustfile load a non-loopback gateway on purpose (refused otherwise)."),
    # --- the gate and the processes it starts -------------------------------------------------
    _v("AIDEON_GATEWAY_URL", "url", None,
       "The gateway the load targets (loopback; a port-forward for a remote cluster).", "gate"),
    _v("AIDEON_CHAOS_RUN_ID", "text", None, "Run id the chaos extension files its undo log under.", "gate"),
    _v("AIDEON_CHAOS_EVIDENCE_FILE", "path", None,
       "Where actions append live evidence (timeline events): the gate points it at the run's timeline; "
       "default beside the undo log.", "gate"),
    _v("AIDEON_WINDOWS_FILE", "path", None, "Where Locust writes its windowed statistics (JSON lines).", "gate"),
    _v("AIDEON_LOCUSTFILE", "path", "loadtests/gateway.py", "Locustfile chaos load actions run.", "gate"),
    _v("AIDEON_LOAD_EXTERNAL", "flag", None,
       "`1`: the gate runs the load; the experiments' load control only reads it.", "gate"),
    _v("AIDEON_BACKEND_ADMIN_URL", "list", None,
       "Admin endpoints (comma separated, loopback) of the backends the outlier experiment breaks.", "experiments"),
    _v("AIDEON_PROXY_STATS_URL", "url", None, "The local proxy's CSV stats (loopback).", "experiments"),
    _v("AIDEON_PROXY_BACKEND", "text", "api-gateway", "The proxy backend the outlier probes read.", "experiments"),
    _v("AIDEON_PROMETHEUS_URL", "url", None,
       "The local data plane's Prometheus, exported by `cluster env` for your queries.", "you"),
    # --- what the experiments act on (their `configuration` blocks) ---------------------------
    _v("AIDEON_CHAOS_NAMESPACE", "text", "aideon-backend", "Namespace of the workload an experiment breaks.",
       "experiments"),
    _v("AIDEON_CHAOS_DEPLOYMENT", "text", "api-gateway", "Workload whose readiness is the steady state.",
       "experiments"),
    _v("AIDEON_CHAOS_SELECTOR", "text", "app.kubernetes.io/name=api-gateway", "Label selector of its pods.",
       "experiments"),
    _v("AIDEON_CHAOS_PDB", "text", "api-gateway", "PodDisruptionBudget the steady state checks.", "experiments"),
    _v("AIDEON_CHAOS_HPA", "text", "api-gateway", "HorizontalPodAutoscaler the load surge watches.", "experiments"),
    _v("AIDEON_CHAOS_MIN_READY", "integer", "1", "Ready replicas the steady state requires.", "experiments"),
    _v("AIDEON_CHAOS_RECOVERY_TIMEOUT", "integer", "120", "Seconds to wait for the workload to be ready again.",
       "experiments"),
    _v("AIDEON_CHAOS_KILL_COUNT", "integer", "1", "Pods the pod-kill experiment kills.", "experiments"),
    _v("AIDEON_CHAOS_STATEFUL_NAMESPACE", "text", "aideon-knowledge",
       "Namespace of the StatefulSet the stateful-node-loss experiment targets.", "experiments"),
    _v("AIDEON_CHAOS_STATEFULSET", "text", "vector-db", "StatefulSet the stateful-node-loss experiment targets.",
       "experiments"),
    _v("AIDEON_CHAOS_STATEFUL_SELECTOR", "text", "app.kubernetes.io/name=vector-db",
       "Label selector of that StatefulSet's pods.", "experiments"),
    _v("AIDEON_CHAOS_STATEFUL_MIN_READY", "integer", "2",
       "Ready replicas of that StatefulSet the steady state requires (its majority).", "experiments"),
    _v("AIDEON_CHAOS_ROLLOUT_TIMEOUT", "integer", "300",
       "Seconds the rolling-update experiment waits for its rollout to complete (then rolls it back).",
       "experiments"),
    _v("AIDEON_CHAOS_DRAIN_COUNT", "integer", "1", "Nodes the node-drain experiment drains.", "experiments"),
    _v("AIDEON_CHAOS_DRAIN_POD_SELECTOR", "text", None,
       "Evict only the pods matching this selector (unset: every pod, like `kubectl drain`).", "experiments"),
    _v("AIDEON_CHAOS_DRAIN_TIMEOUT", "integer", "120", "Seconds a drain may take.", "experiments"),
    _v("AIDEON_CHAOS_LOSS_COUNT", "integer", "1", "Nodes the node-loss experiment takes away.", "experiments"),
    _v("AIDEON_CHAOS_LOSS_SECONDS", "integer", "30", "How long lost nodes stay lost.", "experiments"),
    _v("AIDEON_CHAOS_ZONE_LOSS_SECONDS", "integer", "75",
       "How long a lost zone stays lost (longer than its pods' not-ready toleration, so they move).", "experiments"),
    _v("AIDEON_CHAOS_NODE_LOSS_MODE", "text", "unready", "How a node is lost: unready or unreachable.",
       "experiments"),
    _v("AIDEON_CHAOS_NODE_WAIT_TIMEOUT", "integer", "60",
       "Bound in seconds of the wait for a lost node's state to change.", "experiments"),
    _v("AIDEON_CHAOS_ZONE", "text", "zone-a", "Zone the zone-outage experiment takes away.", "experiments"),
    _v("AIDEON_CHAOS_MAX_PER_NODE", "integer", "1",
       "Most pods of the workload on one node in the zone-outage steady state.", "experiments"),
    _v("AIDEON_CHAOS_OUTLIER_SECONDS", "integer", "45",
       "How long the outlier experiment keeps a backend failing. Unset, the local gate gives three of the "
       "gateway's baseEjectionTime as its data plane applies it (local: 3 x 15 s), so the backend is "
       "ejected, returns and is ejected again for longer; the default is for a gateway without outlier "
       "detection.", "experiments"),
    _v("AIDEON_CHAOS_VIRTUAL_SERVICE", "text", "api-gateway",
       "VirtualService whose route the canary experiment splits.", "experiments"),
    _v("AIDEON_CHAOS_CANARY_SUBSET", "text", "v2", "DestinationRule subset (label `version`) of the canary.",
       "experiments"),
    _v("AIDEON_CHAOS_CANARY_REPLICAS", "integer", "2", "Pods of the canary the canary experiment brings up.",
       "experiments"),
    _v("AIDEON_CHAOS_CANARY_WEIGHTS", "text", "v1=80,v2=20",
       "SUBSET=WEIGHT,... the canary experiment routes (adding up to 100): a canary's second step, after the "
       "seed's 90/10.", "experiments"),
    _v("AIDEON_CHAOS_CANARY_SELECTOR", "text", "app.kubernetes.io/name=api-gateway,version=v2",
       "Label selector of the canary's pods.", "experiments"),
    _v("AIDEON_CHAOS_CANARY_FAILING", "integer", "1",
       "Canary pods the canary experiment switches to failing (all of them: its subset has no healthy host).",
       "experiments"),
    _v("AIDEON_CHAOS_CANARY_SECONDS", "integer", "20", "How long the canary's pods keep failing.", "experiments"),
    _v("AIDEON_CHAOS_CANARY_PROXY_BACKEND", "text", "be_api-gateway.v2",
       "The proxy backend (the canary's subset) whose ejections the canary experiment reads.", "experiments"),
    _v("AIDEON_CHAOS_ROUTE_SETTLE_SECONDS", "integer", "7",
       "Wait after a route change before the next step (the local data plane reads routes every 5 s).",
       "experiments"),
    _v("AIDEON_DATAPLANE_DIR", "path", None,
       "The local data plane's work directory (its state.json names each pod's stand-in); set by the local "
       "gate for the experiments that find stand-ins by pod.", "experiments"),
    _v("AIDEON_SLO_MAX_ERROR_RATIO", "number", "0.05",
       "Client error ratio per window the experiments' steady state allows.", "experiments"),
    _v("AIDEON_SLO_WINDOW_SECONDS", "integer", "20", "Recent seconds of client windows the steady state judges.",
       "experiments"),
    _v("AIDEON_SURGE_USERS", "integer", "200", "Users of the load-surge experiment's surge.", "experiments"),
    _v("AIDEON_SURGE_THINK_TIME", "text", "0.5,1.5", "MIN,MAX think time of the surge's users.", "experiments"),
    _v("AIDEON_SURGE_REPLICAS", "integer", "4", "Replicas the load surge times the HPA to reach.", "experiments"),
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
    _v("AIDEON_THINK_TIME", "text", None,
       "MIN,MAX seconds between a user's requests (unset: the think time of `core.profiles`).", "locustfile"),
    _v("AIDEON_WINDOW_SECONDS", "number", "5", "Length of one statistics window.", "locustfile"),
    _v("AIDEON_MAX_ERROR_RATIO", "number", None, "Client threshold: error ratio that fails Locust.", "locustfile"),
    _v("AIDEON_MAX_P95_MS", "number", None, "Client threshold: p95 latency that fails Locust.", "locustfile"),
    _v("AIDEON_MAX_P99_MS", "number", None, "Client threshold: p99 latency that fails Locust.", "locustfile"),
    _v("AIDEON_LOAD_USER_PREFIX", "text", "synthetic-user",
       "User names the journeys log in with (PREFIX-n; the default is what the stand-in accepts).", "locustfile"),
    _v("AIDEON_LOAD_PASSWORD", "text", "synthetic-password",
       "Password of the load users (a secret against a real cluster).", "locustfile"),
    _v("AIDEON_LOAD_USERS", "integer", "50", "Users of an experiment's own base load.", "experiments"),
    _v("AIDEON_LOAD_SPAWN_RATE", "number", "10", "Spawn rate of an experiment's own base load.", "experiments"),
    _v("AIDEON_LOAD_MAX_SECONDS", "integer", "600", "Bound of an experiment's own base load.", "experiments"),
    _v("AIDEON_LOAD_WARMUP_SECONDS", "number", "30", "Warm-up before an experiment's method.", "experiments"),
    # --- the stand-in services ----------------------------------------------------------------
    _v("AIDEON_UPSTREAM_<SERVICE>", "url", None,
       "Loopback URL of the upstream a stand-in calls (the data plane sets one per upstream)."),
    _v("AIDEON_POD_NAME", "text", None, "The pod a stand-in process serves for (set by the data plane)."),
    _v("AIDEON_POD_NAMESPACE", "text", None, "Namespace of that pod (set by the data plane)."),
    _v("AIDEON_ATTEMPT_LOG_PORT", "integer", None,
       "UDP port on 127.0.0.1 where a stand-in reports each response it gives the local proxy (set by the "
       "data plane; its outlier detection counts every attempt)."),
    _v("ENVIRONMENT", "text", None,
       "The platform environment a stand-in serves in: its pod's `aideon-config` ConfigMap, which the data "
       "plane resolves like a kubelet (one of development, staging, production, local)."),
    _v("LOG_LEVEL", "text", None, "A stand-in's log level, from `aideon-config` (debug, info, warning, error)."),
    _v("FEATURE_FLAGS", "text", None,
       "The feature flags a stand-in reports, from `aideon-config` (comma separated; may be empty). A pod's "
       "stand-in (AIDEON_POD_NAME set) given any of these three refuses to start unless all three are valid; "
       "a stand-in run by hand ignores them."),
    _v("CI", "text", None,
       "Set by CI runners (`true`, `1` or the runner's name; `0`/`false`/`no` count as unset): the gate "
       "prints plain progress lines instead of a live display."),
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


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
T = TypeVar("T")


def _bad(name: str, raw: str, expected: str) -> UsageError:
    return UsageError(f"environment: {name}: {expected}: {raw!r}")


def _given(name: str, value: T | None) -> T:
    if value is None:
        raise KeyError(f"{name} is declared without a default: read it with the reader that may return None")
    return value


class Settings:
    """Typed reads of the declared variables from one environment mapping (default: the process's)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def exact(self, name: str) -> str | None:
        """The value exactly as set, blank included; None when unset."""
        declared(name)
        return self._environ.get(name)

    def raw(self, name: str) -> str | None:
        """The value as set, or None when unset or blank."""
        declared(name)
        value = self._environ.get(name)
        return value if value is not None and value.strip() else None

    def text(self, name: str) -> str | None:
        """The value without surrounding blanks, else the declared default (None when there is none)."""
        value = self.raw(name)
        default = declared(name).default
        return value.strip() if value is not None else default

    def path(self, name: str) -> Path | None:
        value = self.text(name)
        return None if value is None else Path(value).expanduser()

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return int(value.replace("_", ""))
        except ValueError:
            raise _bad(name, value, "not an integer") from None

    def number(self, name: str) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            raise _bad(name, value, "not a number") from None

    def flag(self, name: str) -> bool:
        """Unset or blank: false; 1/true/yes/on and 0/false/no/off (any case); anything else is an error."""
        value = self.text(name)
        if value is None or value.lower() in _FALSE:
            return False
        if value.lower() in _TRUE:
            return True
        raise _bad(name, value, "not a flag (1/0, true/false, yes/no, on/off)")

    def names(self, name: str) -> list[str]:
        value = self.text(name) or ""
        return [part.strip() for part in value.split(",") if part.strip()]

    # the same reads for a variable declared with a default: never None
    def str_value(self, name: str) -> str:
        return _given(name, self.text(name))

    def path_value(self, name: str) -> Path:
        return _given(name, self.path(name))

    def int_value(self, name: str) -> int:
        return _given(name, self.integer(name))

    def float_value(self, name: str) -> float:
        return _given(name, self.number(name))

    def upstreams(self) -> dict[str, str]:
        """`AIDEON_UPSTREAM_<SERVICE>` values by variable name."""
        return {k: v for k, v in self._environ.items() if k.startswith(UPSTREAM_PREFIX) and v.strip()}

    def child_environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A copy of this environment for a child process, with `extra` set (AIDEON_* names must be declared)."""
        for name in extra or {}:
            if name.startswith("AIDEON_"):
                declared(name)
        return {**self._environ, **(extra or {})}

    # the variables the gate and the local cluster read most, by name
    @property
    def cache_dir(self) -> Path:
        return self.path_value("AIDEON_CACHE_DIR")

    @property
    def kubeconfig(self) -> Path | None:
        """The first file of $KUBECONFIG; None when it names none."""
        first = (self.raw("KUBECONFIG") or "").split(os.pathsep)[0].strip()
        return Path(first).expanduser() if first else None

    @property
    def kubeconfig_file(self) -> Path:
        """The kubeconfig a kube client reads: the first file of $KUBECONFIG, else `~/.kube/config`."""
        return self.kubeconfig or Path(_given("KUBECONFIG", declared("KUBECONFIG").default)).expanduser()

    @property
    def gateway_url(self) -> str | None:
        return self.text("AIDEON_GATEWAY_URL")

    @property
    def allowed_contexts(self) -> list[str]:
        return self.names("AIDEON_CHAOS_ALLOWED_CONTEXTS")

    @property
    def in_ci(self) -> bool:
        """CI runners set CI to `true`, `1` or their own name; 0/false/no/off count as unset."""
        value = self.text("CI")
        return value is not None and value.lower() not in _FALSE


def settings() -> Settings:
    """The settings of the running process (read when asked, not at import)."""
    return Settings()


def export(name: str, value: str | None) -> None:
    """Set (None: unset) a declared variable in this process, for its own later reads and its children."""
    declared(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def markdown_table() -> str:
    """The table `docs/settings.md` holds."""
    lines = ["| variable | type | default | read by | meaning |", "|---|---|---|---|---|"]
    for v in VARIABLES:
        default = f"`{v.default}`" if v.default else "(unset)"
        lines.append(f"| `{v.name}` | {v.kind} | {default} | {v.read_by} | {v.meaning} |")
    return "\n".join(lines) + "\n"


def document() -> str:
    """`docs/settings.md`: the table with a short introduction."""
    return (
        "# Environment variables\n\n"
        "Every environment variable the harness reads or hands to the processes it starts, from\n"
        "`src/aideon_resilience/settings.py` (`VARIABLES`), the only module that reads the environment.\n"
        "Generated: edit `VARIABLES`, then run `make settings-doc`; a test keeps this file equal to it.\n\n"
        "Read by: `harness` its own code; `gate` set by the gate for the processes it starts (settable by\n"
        "hand when running those yourself); `experiments` the Chaos Toolkit experiments' `configuration`\n"
        "and extension; `locustfile` `loadtests/gateway.py` and its shapes; `scripts` the shell scripts;\n"
        "`tests` the test suite; `you` exported for your shell, never read. A blank value counts as\n"
        "unset; a malformed number or flag is refused with a one-line error naming the variable.\n\n"
        + markdown_table()
    )


if __name__ == "__main__":
    print(document(), end="")
