"""Checks before anything changes: every input of a gate run validated, the target's guards passed.

Unusable input (exit 2, one line naming the file and field) and a refusal by a safety guard
(exit 2) are raised here, before a cluster is started, deployed to, loaded or broken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from aideon_resilience.chaos.guard import LOOPBACK_HOSTS, check_limits
from aideon_resilience.chaos.validate import check_experiment
from aideon_resilience.core.config.gate import GATE_FILE, GateConfig, load_gate_config
from aideon_resilience.core.config.rehearsal import REHEARSAL_FILE, RehearsalConfig, load_rehearsal_config
from aideon_resilience.core.config.shape import ClusterShape, load_cluster_shape
from aideon_resilience.core.evaluate.slo import SLO_FILE, RunKind, SloFile, load_slos
from aideon_resilience.core.report.rundir import RUN_FILE
from aideon_resilience.errors import InputFileError, SafetyRefusal, UsageError
from aideon_resilience.gate.options import GateOptions
from aideon_resilience.gate.targets import RehearsalTarget, Target, target_for
from aideon_resilience.settings import Settings, settings


@dataclass
class Prepared:
    """What the checks produced: everything the run needs, validated."""

    env_dir: Path
    config: GateConfig
    slos: SloFile
    slo_path: Path
    shape: ClusterShape
    experiments: list[Path]
    target: Target
    run_dir: Path
    kind: RunKind = "gate"
    notes: list[str] = field(default_factory=list)

    @property
    def context(self) -> str:
        return self.target.context


def _suite(config: GateConfig, opts: GateOptions, source: Path) -> GateConfig:
    """The configuration with `--experiments` applied (a subset of the suite, in its order)."""
    if not opts.experiments:
        return config
    unknown = [n for n in opts.experiments if n not in config.experiments]
    if unknown:
        raise InputFileError(source, f"--experiments: {unknown[0]!r} is not in the suite",
                             field="experiments")
    return config.model_copy(update={"experiments": list(opts.experiments)})


def _experiment_files(config: GateConfig, chaos_dir: Path, source: Path) -> list[Path]:
    files = []
    for name in config.experiments:
        path = chaos_dir / f"{name}.json"
        if not path.is_file():
            raise InputFileError(source, f"experiment {name!r} has no file {path}", field="experiments")
        check_experiment(path)  # Chaos Toolkit's schema, our extension's modules and functions, the safety control
        files.append(path)
    return files


def _check_gateway_url(url: str | None) -> None:
    """The load and the experiments talk to the gateway on loopback only (a port-forward on a real cluster)."""
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"environment: AIDEON_GATEWAY_URL: {url!r} is not an http(s) URL")
    if parts.hostname not in LOOPBACK_HOSTS:
        raise SafetyRefusal(f"environment: AIDEON_GATEWAY_URL: {url!r} is not a loopback address "
                            "(put the gateway on 127.0.0.1 with a port-forward)")


def _check_locustfile(locustfile: Path) -> None:
    if not locustfile.exists():
        raise InputFileError(locustfile, "no such locustfile", field="--locustfile")
    if not locustfile.is_file():
        raise InputFileError(locustfile, "not a file", field="--locustfile")


def _check_out(out: Path) -> None:
    """Run directories go under --out: it must be a directory, or creatable as one."""
    for directory in (out, *out.parents):
        if directory.exists():
            if not directory.is_dir():
                raise InputFileError(directory, "not a directory: run directories cannot be written under it",
                                     field="--out")
            return


def prepare(opts: GateOptions, env: Settings | None = None) -> Prepared:
    """Validate every input and the safety guards; raises before anything is changed."""
    env_dir = opts.manifests / "environments" / opts.env
    if not env_dir.is_dir():
        raise InputFileError(env_dir, f"--env {opts.env}: no such environment")
    kind: RunKind = "rehearsal" if opts.rehearsal else "gate"
    rehearsal: RehearsalConfig | None = None
    if opts.rehearsal:
        source = env_dir / REHEARSAL_FILE
        if opts.users is not None and opts.users <= 0:
            raise InputFileError(source, f"--users: {opts.users} must be positive", field="users")
        rehearsal = load_rehearsal_config(env_dir).with_users(opts.users)
        config = _suite(rehearsal.gate_config(), opts, source)
    else:
        source = env_dir / GATE_FILE
        config = _suite(load_gate_config(env_dir), opts, source)
    slo_path = env_dir / SLO_FILE
    try:
        slos = load_slos(slo_path).for_run(kind)
    except ValueError as exc:
        raise InputFileError(slo_path, str(exc), field="slos") from None
    shape = load_cluster_shape(env_dir)
    target: Target = (
        target_for(opts, env_dir, config, shape, env or settings()) if rehearsal is None
        else RehearsalTarget(opts.manifests, env_dir, shape, rehearsal, env or settings(), keep=opts.keep)
    )
    experiments = _experiment_files(config, opts.chaos_dir, source)
    _check_gateway_url(opts.gateway_url)
    if not opts.rehearsal:  # a rehearsal's load is modelled: no locustfile runs
        _check_locustfile(opts.locustfile)
    _check_out(opts.out)
    check_limits(env)
    if opts.baseline is not None and not (opts.baseline / RUN_FILE).is_file():
        raise InputFileError(opts.baseline, "--baseline: not a run directory (no run.json)")
    target.check()
    suffix = f"{opts.env}-rehearsal" if opts.rehearsal else opts.env
    run_id = opts.run_id or f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{suffix}"
    run_dir = opts.out / run_id
    if run_dir.exists():
        raise InputFileError(run_dir, "run directory already exists")
    return Prepared(env_dir, config, slos, slo_path, shape, experiments, target, run_dir, kind)
