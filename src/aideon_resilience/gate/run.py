"""One gate run, as an outline: checks, target, load, chaos suite, evidence, verdict, reports.

Everything the run could refuse is checked before anything changes (`gate.prepare`). The target
is then made ready (`gate.targets`: the local cluster comes up and is deployed, a remote one is
only reached). A watch-based sampler records the timeline while Locust drives the gateway and
the chaos experiments run in order; the journals, the actions' live evidence and the target's
own events join the timeline; the SLOs are evaluated from the raw data in the run directory,
which is also what `aideon-resilience report RUN_DIR` re-renders from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from aideon_resilience import __version__
from aideon_resilience.adapters.kube.budgets import wait_budgets_healthy
from aideon_resilience.adapters.kube.client import api_client_for
from aideon_resilience.adapters.kube.sampler import Sampler
from aideon_resilience.core.evaluate.slo import SLO_FILE, HpaSlo
from aideon_resilience.core.evaluate.verdict import Verdict
from aideon_resilience.core.evidence.loadstats import read_windows, worker_changes
from aideon_resilience.core.evidence.timeline import TimelineEvent
from aideon_resilience.core.evidence.timeline_writer import TimelineWriter
from aideon_resilience.core.report import render_run
from aideon_resilience.core.report.rundir import (
    JOURNALS_DIR,
    RUN_FILE,
    TIMELINE_FILE,
    UNDO_DIR,
    WINDOWS_FILE,
    RunMeta,
    gate_undo_dir,
)
from aideon_resilience.errors import InfrastructureError, InputFileError
from aideon_resilience.gate.evidence import merge_into_timeline
from aideon_resilience.gate.experiments import ExperimentRun, run_experiment
from aideon_resilience.gate.options import GateOptions, Progress
from aideon_resilience.gate.prepare import Prepared, prepare
from aideon_resilience.gate.status import RunStatus
from aideon_resilience.gate.targets import Connection, LoadSpec, RunningLoad, Target

BUDGETS_TIMEOUT_S = 180
LAST_EXPERIMENT_MIN_S = 30  # no experiment starts with less of the gate's bound left


def _git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


@dataclass
class _Run:
    """The state of a run in progress."""

    prep: Prepared
    opts: GateOptions
    connection: Connection
    meta: RunMeta
    env: dict[str, str]
    status: RunStatus
    load: RunningLoad | None = None
    runs: list[ExperimentRun] = field(default_factory=list)

    @property
    def dir(self) -> Path:
        return self.prep.run_dir

    def write_meta(self) -> None:
        (self.dir / RUN_FILE).write_text(self.meta.model_dump_json(indent=2), encoding="utf-8")


def _open_run(prep: Prepared, opts: GateOptions, connection: Connection, status: RunStatus) -> _Run:
    """The run directory with its inputs and `run.json`; the environment every experiment gets."""
    run_dir = prep.run_dir
    (run_dir / JOURNALS_DIR).mkdir(parents=True)
    shutil.copyfile(prep.slo_path, run_dir / SLO_FILE)
    meta = RunMeta(run_id=run_dir.name, env=opts.env, context=connection.context, started=time.time(),
                   git_revision=_git_revision(), tool_version=__version__, kind=prep.kind)
    env = {
        "AIDEON_CHAOS_RUN_ID": run_dir.name,
        # the actions append their live evidence to the timeline beside the sampler
        "AIDEON_CHAOS_EVIDENCE_FILE": str(run_dir / TIMELINE_FILE),
        "AIDEON_UNDO_DIR": str(run_dir / UNDO_DIR),  # `aideon-resilience rollback RUN_DIR` replays it
        "AIDEON_LOCUSTFILE": str(opts.locustfile.resolve()),
    }
    if connection.kubeconfig is not None:
        env["KUBECONFIG"] = str(connection.kubeconfig)
    run = _Run(prep, opts, connection, meta, env, status)
    status.windows_file = run_dir / WINDOWS_FILE
    run.write_meta()
    return run


def _start_load(run: _Run, writer: TimelineWriter, progress: Progress) -> None:
    """The target's load (Locust here or in the cluster, or a modelled one), warmed up before the suite."""
    cfg = run.prep.config
    budget = int(cfg.max_seconds + cfg.load.warmup_seconds + cfg.load.cooldown_seconds)
    spec = LoadSpec(cfg.load, run.opts.locustfile, run.connection.gateway_url, run.dir, run.dir / WINDOWS_FILE,
                    budget, run.opts.env, timeline=writer)
    if cfg.load.enabled and run.connection.gateway_url:
        workers = cfg.load.worker_count
        how = f"a master and {workers} workers" if workers else "one process"
        progress(f"load: {cfg.load.users} users against {run.connection.gateway_url} from {how} "
                 f"(bounded to {budget}s)")
    run.load = run.prep.target.start_load(spec, progress)
    if run.load is None:
        return
    meta = run.meta
    meta.target_users, meta.load_modelled = run.load.users, run.load.modelled
    if not run.load.modelled:
        meta.load_workers, meta.max_worker_loss = cfg.load.worker_count, cfg.load.max_worker_loss
    run.write_meta()
    run.env.update(run.load.env)
    time.sleep(run.load.warmup_s)


def _run_suite(run: _Run, progress: Progress) -> None:
    """The experiments in order, each bounded, none started past the gate's bound."""
    cfg = run.prep.config
    experiments = run.prep.experiments
    deadline = run.meta.started + cfg.max_seconds
    run.status.phase, run.status.total = "chaos suite", len(experiments)
    run.status.suite_started = time.monotonic()
    run.status.bound_s = cfg.max_seconds + cfg.load.cooldown_seconds
    for i, experiment in enumerate(experiments, start=1):
        remaining = deadline - time.time()
        if remaining <= LAST_EXPERIMENT_MIN_S:
            progress(f"stopping the suite: the gate's bound of {cfg.max_seconds:.0f}s is reached")
            break
        if i > 1 and cfg.settle_seconds:
            progress(f"settling for {cfg.settle_seconds:g}s")
            time.sleep(cfg.settle_seconds)
        run.status.index, run.status.experiment = i, experiment.stem
        progress(f"chaos {i}/{len(experiments)}: {experiment.stem}")
        env = {**run.env, **run.prep.target.chaos_env()}
        result = run_experiment(experiment, run.dir / JOURNALS_DIR, env,
                                min(cfg.experiment_timeout_seconds, remaining), undo_dir=gate_undo_dir(run.dir))
        run.runs.append(result)
        status = result.summary.status if result.summary else "no journal"
        held = result.summary is not None and result.summary.held
        progress(f"chaos {experiment.stem}: {status}, {'held' if held else 'did NOT hold'}"
                 + (f" ({result.problem})" if result.problem else ""))
        if run.load is not None and not run.load.running() and run.meta.load_lost_at is None:
            progress("load: the load ended early" + ("" if run.load.modelled else " (see locust.log)"))
            run.meta.load_lost_at = time.time()  # the client SLOs are inconclusive, never judged on part of it
            run.write_meta()


def _cool_down(run: _Run, sampler: Sampler, progress: Progress) -> None:
    """Keep the base load on while the autoscalers come back down (bounded by cooldown_seconds)."""
    if run.load is None:
        return
    seconds = run.prep.config.load.cooldown_seconds
    run.status.phase, run.status.experiment = "cooling down", None
    end = time.time() + seconds
    progress(f"cooling down: waiting up to {seconds:g}s for the HPAs to settle")
    scaled = [w for slo in run.prep.slos.slos if isinstance(slo, HpaSlo) for w in slo.workloads]
    while time.time() < end and not sampler.hpas_settled(scaled):
        time.sleep(2)


def _worker_changes(run: _Run) -> list[TimelineEvent]:
    """The load's worker drop-outs, from the worker counts the master wrote per window."""
    file = run.dir / WINDOWS_FILE
    if not file.is_file() or not run.meta.load_workers:
        return []
    try:
        return list(worker_changes(read_windows(file), run.meta.load_workers))
    except InputFileError:
        return []  # the report names the malformed line


def _close_run(run: _Run, writer: TimelineWriter) -> None:
    """Record the end and merge every piece of evidence into the timeline."""
    run.meta.ended = time.time()
    # the harness's own cost (sampler, load driver, timeline; the experiments run as children)
    times = os.times()
    run.meta.harness_cpu_s = round(times.user + times.system, 1)
    run.write_meta()
    events = [*run.prep.target.evidence(run.meta.started, run.meta.ended), *_worker_changes(run)]
    merge_into_timeline(writer, run.runs, events)


def run_gate(opts: GateOptions, progress: Progress, status: RunStatus | None = None) -> Verdict:
    status = status or RunStatus()
    prep = prepare(opts)
    try:
        run = _observe(prep, opts, progress, status)
    finally:
        _release(prep.target, progress)
    if not run.runs:
        raise InfrastructureError("no chaos experiment ran")
    status.phase = "verdict"
    progress("evaluating the SLOs and writing the reports")
    return render_run(run.dir, baseline_run_dir=opts.baseline)


def _release(target: Target, progress: Progress) -> None:
    """Give the target back, also when a second interrupt arrives while doing so (a user pressing
    Ctrl-C twice, or a runner's SIGTERM after a SIGINT): the release is started once more."""
    try:
        target.release(progress)
    except KeyboardInterrupt:
        progress("interrupted while releasing the target: releasing it again before stopping")
        target.release(progress)
        raise


def _observe(prep: Prepared, opts: GateOptions, progress: Progress, status: RunStatus) -> _Run:
    """Target ready, sampler on, load on, the suite, cool-down; every piece of evidence recorded."""
    status.phase = "target"
    connection = prep.target.provision(progress)
    api = api_client_for(connection.kubeconfig, None if connection.kubeconfig is None else connection.context)
    run = _open_run(prep, opts, connection, status)
    status.phase = "steady state"

    progress("waiting for every disruption budget to be satisfied before breaking anything")
    wait_budgets_healthy(api, timeout=BUDGETS_TIMEOUT_S)
    writer = TimelineWriter(run.dir / TIMELINE_FILE)
    sampler = Sampler(api, writer)
    sampler.start()
    try:
        status.phase = "load warm-up"
        _start_load(run, writer, progress)
        _run_suite(run, progress)
        _cool_down(run, sampler, progress)
    finally:
        if run.load is not None:
            run.load.stop()
        sampler.stop()
        _close_run(run, writer)
        writer.close()
    if sampler.errors:
        progress(f"sampler: {len(sampler.errors)} watch interruptions (resumed): {sampler.errors[0]}")
    return run
