"""One gate run: checks, cluster, load, chaos suite, evidence, verdict, reports.

Everything the run could refuse is checked before anything changes (unusable input and a
context that is not allow-listed exit 2). Then, on the local environment, the local cluster is
brought up and the overlay deployed when needed. A watch-based sampler records the timeline
while Locust drives the gateway and the chaos experiments run in order; the journals and the
actions' live evidence join the timeline; the SLOs are evaluated from the raw data in the run
directory, which is also what `aideon-resilience report RUN_DIR` re-renders from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aideon_resilience import __version__
from aideon_resilience.adapters.gate.load import LoadRun, start_load
from aideon_resilience.adapters.gate.suite import ExperimentRun, run_experiment
from aideon_resilience.adapters.kube.sampler import Sampler, TimelineWriter
from aideon_resilience.core.gateconfig import GateConfig, load_gate_config
from aideon_resilience.core.report import render_run
from aideon_resilience.core.rundir import JOURNALS_DIR, RUN_FILE, TIMELINE_FILE, WINDOWS_FILE, RunMeta
from aideon_resilience.core.shape import ClusterShape, load_cluster_shape
from aideon_resilience.core.slo import SLO_FILE, HpaSlo, SloFile, load_slos
from aideon_resilience.core.timeline import parse_event
from aideon_resilience.core.verdict import Verdict
from aideon_resilience.errors import InfrastructureError, InputFileError, SafetyRefusal

LOCAL_ENV = "local"
GATEWAY_NAMESPACE = "aideon-backend"
EVIDENCE_FILE = "evidence.jsonl"
Progress = Callable[[str], None]


@dataclass
class GateOptions:
    env: str = LOCAL_ENV
    context: str | None = None
    manifests: Path = Path("manifests")
    out: Path = Path("reports")
    baseline: Path | None = None
    chaos_dir: Path = Path("chaos")
    locustfile: Path = Path("loadtests/gateway.py")
    gateway_url: str | None = None
    run_id: str | None = None
    overlay: Path | None = None  # deploy this overlay instead of the environment's (local only)
    experiments: list[str] | None = None  # run these of the suite only


@dataclass
class Prepared:
    """What the checks produced: everything the run needs, validated."""

    env_dir: Path
    config: GateConfig
    slos: SloFile
    slo_path: Path
    shape: ClusterShape
    experiments: list[Path]
    context: str
    run_dir: Path
    notes: list[str] = field(default_factory=list)


def _allowed_contexts() -> list[str]:
    from aideon_resilience.chaos.guard import allowed_contexts

    return allowed_contexts()


def prepare(opts: GateOptions) -> Prepared:
    """Validate every input and the safety guards; raises before anything is changed."""
    env_dir = opts.manifests / "environments" / opts.env
    if not env_dir.is_dir():
        raise InputFileError(env_dir, f"--env {opts.env}: no such environment")
    config = load_gate_config(env_dir)
    slo_path = env_dir / SLO_FILE
    slos = load_slos(slo_path)
    shape = load_cluster_shape(env_dir)
    if opts.experiments:
        unknown = [n for n in opts.experiments if n not in config.experiments]
        if unknown:
            raise InputFileError(env_dir / "gate.yaml", f"--experiments: {unknown[0]!r} is not in the suite",
                                 field="experiments")
        config = config.model_copy(update={"experiments": list(opts.experiments)})
    if opts.overlay is not None:
        if opts.env != LOCAL_ENV:
            raise SafetyRefusal("--overlay: only the local environment may be deployed from another overlay")
        if not (opts.overlay / "kustomization.yaml").is_file():
            raise InputFileError(opts.overlay, "--overlay: not a kustomize directory (no kustomization.yaml)")
    experiments = []
    for name in config.experiments:
        path = opts.chaos_dir / f"{name}.json"
        if not path.is_file():
            raise InputFileError(env_dir / "gate.yaml", f"experiment {name!r} has no file {path}", field="experiments")
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputFileError(path, f"not valid JSON (line {exc.lineno})") from None
        experiments.append(path)
    if opts.baseline is not None and not (opts.baseline / RUN_FILE).is_file():
        raise InputFileError(opts.baseline, "--baseline: not a run directory (no run.json)")
    if opts.env == LOCAL_ENV:
        from aideon_resilience.adapters.localcluster import CONTEXT

        context = opts.context or CONTEXT
        if context != CONTEXT:
            raise SafetyRefusal(f"--context {context}: the local environment runs on {CONTEXT} only")
    else:
        if not opts.context:
            raise SafetyRefusal(f"--env {opts.env}: name the cluster with --context (nothing was changed)")
        context = opts.context
    if context not in _allowed_contexts():
        raise SafetyRefusal(
            f"--context {context}: not allow-listed; add it to AIDEON_CHAOS_ALLOWED_CONTEXTS to let "
            "the gate break it (nothing was changed)"
        )
    if opts.env != LOCAL_ENV and not opts.gateway_url:
        raise SafetyRefusal(f"--env {opts.env}: set AIDEON_GATEWAY_URL to the gateway the load may target")
    run_id = opts.run_id or f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{opts.env}"
    run_dir = opts.out / run_id
    if run_dir.exists():
        raise InputFileError(run_dir, "run directory already exists")
    return Prepared(env_dir, config, slos, slo_path, shape, experiments, context, run_dir)


def _git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def _kube_target(prep: Prepared, opts: GateOptions, progress: Progress) -> tuple[Path | None, str | None]:
    """KUBECONFIG path and gateway URL; on the local environment, cluster up and deploy first."""
    if opts.env == LOCAL_ENV:
        from aideon_resilience.adapters.localcluster import LocalCluster

        cluster = LocalCluster()
        progress("bringing the local cluster up (reused when healthy)")
        cluster.up(nodes=prep.shape.nodes, zones=prep.shape.zone_count, progress=progress)
        progress("deploying the local overlay and the local data plane")
        from aideon_resilience.adapters.dataplane import ensure_deployed

        overlay = opts.overlay or prep.env_dir
        url = ensure_deployed(opts.manifests, overlay, progress=progress)
        return cluster.paths.kubeconfig, opts.gateway_url or url
    import os

    if prep.context == "in-cluster" and not os.environ.get("KUBECONFIG"):
        return None, opts.gateway_url  # the pod's service account
    kubeconfig = Path(os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config")))
    if not kubeconfig.is_file():
        raise InputFileError(kubeconfig, "KUBECONFIG: no such kubeconfig")
    return kubeconfig, opts.gateway_url


def _wait_budgets_healthy(api: object, timeout: float) -> None:
    """The platform is steady before the run starts: every PDB has its desired healthy pods."""
    from kubernetes import client

    policy = client.PolicyV1Api(api)
    deadline = time.monotonic() + timeout
    short: list[str] = []
    while time.monotonic() < deadline:
        short = [
            f"{p.metadata.namespace}/{p.metadata.name}"
            for p in policy.list_pod_disruption_budget_for_all_namespaces().items
            if p.status is None or (p.status.current_healthy or 0) < (p.status.desired_healthy or 0)
        ]
        if not short:
            return
        time.sleep(2)
    raise InfrastructureError(f"the platform is not steady: {len(short)} disruption budget(s) short, e.g. {short[0]}")


def _local_chaos_env() -> dict[str, str]:
    """Loopback endpoints of the local data plane the outlier experiment acts on, resolved right
    before each experiment (pods, and so stand-in ports, change under chaos): the admin endpoint
    of one ready gateway stand-in, and the proxy's stats."""
    from aideon_resilience.adapters.dataplane import dataplane_state
    from aideon_resilience.adapters.dataplane.proxy import backend_name
    from aideon_resilience.adapters.localcluster import ClusterPaths

    state = dataplane_state(ClusterPaths())
    if state is None:
        return {}
    env: dict[str, str] = {}
    # a stand-in that serves and will keep serving: not one of a pod on its way out (its grace
    # period keeps the process alive for a while after the proxy dropped it) or on a lost node
    gateways = sorted(
        s["port"]
        for s in state.standins
        if s.get("service") == "api-gateway" and s.get("namespace") == GATEWAY_NAMESPACE
        and s.get("ready") and s.get("node_ready", True) and not s.get("terminating")
    )
    if gateways:
        env["AIDEON_BACKEND_ADMIN_URL"] = f"http://127.0.0.1:{gateways[0]}"
    if state.haproxy_stats_url:
        env["AIDEON_PROXY_STATS_URL"] = state.haproxy_stats_url + ";csv"
        env["AIDEON_PROXY_BACKEND"] = backend_name("api-gateway")
    return env


def _merge_into_timeline(run_dir: Path, runs: list[ExperimentRun], extra: Sequence[str] = ()) -> int:
    """Journal events, the actions' live evidence and `extra` timeline lines (the proxy's
    ejections) join the timeline; returns lines added."""
    added = 0
    with (run_dir / TIMELINE_FILE).open("a", encoding="utf-8") as fh:
        for line in extra:
            if parse_event(line) is not None:
                fh.write(line.strip() + "\n")
                added += 1
        for run in runs:
            if run.summary is None:
                continue
            for event in run.summary.events:
                fh.write(json.dumps(event) + "\n")
                added += 1
        evidence = run_dir / EVIDENCE_FILE
        if evidence.is_file():
            for line in evidence.read_text(encoding="utf-8").splitlines():
                if line.strip() and parse_event(line) is not None:
                    fh.write(line.strip() + "\n")
                    added += 1
    return added


def run_gate(opts: GateOptions, progress: Progress) -> Verdict:
    prep = prepare(opts)
    kubeconfig, gateway_url = _kube_target(prep, opts, progress)

    from aideon_resilience.adapters.kube.client import api_client_for

    api = api_client_for(kubeconfig, None if kubeconfig is None else prep.context)
    run_dir = prep.run_dir
    (run_dir / JOURNALS_DIR).mkdir(parents=True)
    shutil.copyfile(prep.slo_path, run_dir / SLO_FILE)
    started = time.time()
    meta = RunMeta(run_id=run_dir.name, env=opts.env, context=prep.context, started=started,
                   git_revision=_git_revision(), tool_version=__version__,
                   target_users=prep.config.load.users if prep.config.load.enabled else None)
    (run_dir / RUN_FILE).write_text(meta.model_dump_json(indent=2), encoding="utf-8")

    progress("waiting for every disruption budget to be satisfied before breaking anything")
    _wait_budgets_healthy(api, timeout=180)
    writer = TimelineWriter(run_dir / TIMELINE_FILE)
    sampler = Sampler(api, writer)
    sampler.start()
    load: LoadRun | None = None
    runs: list[ExperimentRun] = []
    env = {
        "AIDEON_CHAOS_RUN_ID": run_dir.name,
        "AIDEON_CHAOS_EVIDENCE_FILE": str(run_dir / EVIDENCE_FILE),
        "AIDEON_WINDOWS_FILE": str(run_dir / WINDOWS_FILE),
        "AIDEON_UNDO_DIR": str(run_dir / "undo"),  # `aideon-resilience rollback RUN_DIR` replays it
        "AIDEON_LOCUSTFILE": str(opts.locustfile.resolve()),
    }
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    try:
        cfg = prep.config
        if cfg.load.enabled and gateway_url:
            budget = int(cfg.max_seconds + cfg.load.warmup_seconds + cfg.load.cooldown_seconds)
            progress(f"load: {cfg.load.users} users against {gateway_url} (bounded to {budget}s)")
            load = start_load(cfg.load, opts.locustfile, gateway_url, run_dir, run_dir / WINDOWS_FILE, budget,
                              opts.env)
            env["AIDEON_GATEWAY_URL"] = gateway_url
            env["AIDEON_LOAD_EXTERNAL"] = "1"  # the gate runs the load; experiments only read it
            time.sleep(cfg.load.warmup_seconds)
        elif cfg.load.enabled:
            progress("load: no gateway URL, the suite runs without client traffic")
        deadline = started + cfg.max_seconds
        for i, experiment in enumerate(prep.experiments, start=1):
            remaining = deadline - time.time()
            if remaining <= 30:
                progress(f"stopping the suite: the gate's bound of {cfg.max_seconds:.0f}s is reached")
                break
            if i > 1 and cfg.settle_seconds:
                progress(f"settling for {cfg.settle_seconds:g}s")
                time.sleep(cfg.settle_seconds)
            progress(f"chaos {i}/{len(prep.experiments)}: {experiment.stem}")
            experiment_env = {**env, **(_local_chaos_env() if opts.env == LOCAL_ENV else {})}
            run = run_experiment(experiment, run_dir / JOURNALS_DIR, experiment_env,
                                 min(cfg.experiment_timeout_seconds, remaining))
            runs.append(run)
            status = run.summary.status if run.summary else "no journal"
            held = run.summary is not None and run.summary.held
            progress(f"chaos {experiment.stem}: {status}, {'held' if held else 'did NOT hold'}"
                     + (f" ({run.problem})" if run.problem else ""))
            if load is not None and not load.running():
                progress("load: Locust ended early (see locust.log)")
        if load is not None:
            # keep the base load on while the autoscalers come back down (bounded by cooldown_seconds)
            cooldown_end = time.time() + cfg.load.cooldown_seconds
            progress(f"cooling down: waiting up to {cfg.load.cooldown_seconds:g}s for the HPAs to settle")
            scaled = [w for slo in prep.slos.slos if isinstance(slo, HpaSlo) for w in slo.workloads]
            while time.time() < cooldown_end and not sampler.hpas_settled(scaled):
                time.sleep(2)
    finally:
        if load is not None:
            load.stop()
        sampler.stop()
        writer.close()
        meta.ended = time.time()
        (run_dir / RUN_FILE).write_text(meta.model_dump_json(indent=2), encoding="utf-8")
        ejections: list[str] = []
        if opts.env == LOCAL_ENV:
            from aideon_resilience.adapters.dataplane import ejection_events
            from aideon_resilience.adapters.localcluster import ClusterPaths

            ejections = ejection_events(ClusterPaths(), started, meta.ended)
        _merge_into_timeline(run_dir, runs, ejections)
    if sampler.errors:
        progress(f"sampler: {len(sampler.errors)} watch interruptions (resumed): {sampler.errors[0]}")
    if not runs:
        raise InfrastructureError("no chaos experiment ran")
    progress("evaluating the SLOs and writing the reports")
    return render_run(run_dir, baseline_run_dir=opts.baseline)
