"""The Locust run that drives traffic through the whole chaos suite, on the machine the gate runs on.

With `load.workers: 0` one headless `locust` process runs the users. With N >= 1 workers the gate
starts a master bound to loopback (`--master --master-bind-host 127.0.0.1`, `--expect-workers N`
so the shape starts only when every worker joined) and N `locust --worker` processes that connect
to it; the master runs the shape, merges the workers' windowed statistics and writes the windows
file. Every process is in one process group: stopping the run (at the end, on an interrupt or a
failure) sends SIGINT to the master so it writes its last window and tells the workers to quit,
then ends whatever is left of the group.

The shape's figures are the environment's gate.yaml `load` block, handed over as the variables of
`core.gateconfig.shape_environment`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from aideon_resilience.adapters.localhost import free_port
from aideon_resilience.adapters.locust.command import headless_command, python_locust
from aideon_resilience.chaos.processes import ProcessUndo
from aideon_resilience.chaos.undo import UndoLog
from aideon_resilience.core.config.gate import LoadConfig, shape_environment
from aideon_resilience.core.report.rundir import gate_undo_dir
from aideon_resilience.gate.load_handle import LoadSpec, locust_environment
from aideon_resilience.gate.options import Progress
from aideon_resilience.settings import settings

LOOPBACK = "127.0.0.1"
EXPECT_WORKERS_MAX_WAIT_S = 120


@dataclass
class LoadRun:
    """The Locust processes of one run: the master (or the single process) first, then the workers."""

    processes: list[subprocess.Popen[bytes]]
    log: Path
    workers: int = 0
    notes: list[str] = field(default_factory=list)
    users: int = 0
    warmup_s: float = 0.0
    env: dict[str, str] = field(default_factory=dict)
    modelled: bool = False
    undo: ProcessUndo | None = None  # its step in the run's undo log, done once stopped

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.processes[0]

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 20) -> int:
        """SIGINT to the master (its last window, the workers' quit), then the rest of the group."""
        main = self.process
        if main.poll() is None:
            main.send_signal(signal.SIGINT)
            try:
                main.wait(grace)
            except subprocess.TimeoutExpired:
                main.kill()
                main.wait(5)
        deadline = time.monotonic() + min(grace, 10)
        for proc in self.processes[1:]:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGINT)
        _end_group(main.pid, self.processes)
        if self.undo is not None:
            self.undo.done()
        return int(main.returncode or 0)


def _end_group(pgid: int, processes: list[subprocess.Popen[bytes]], grace: float = 5) -> None:
    """Terminate, then kill, what is left of the process group the master leads."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if all(p.poll() is not None for p in processes):
            break
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(p.poll() is None for p in processes):
            time.sleep(0.1)
    for p in processes:
        if p.poll() is None:
            p.wait(1)


def locust_command(
    load: LoadConfig,
    locustfile: Path,
    gateway_url: str,
    windows_file: Path,
    run_seconds: int,
    master_port: int | None = None,
) -> list[str]:
    """The single process (workers 0) or the master (workers N, on `master_port`)."""
    cmd = headless_command(locustfile, gateway_url, load.users, load.spawn_rate, run_seconds,
                           "--stop-timeout", "5", "--windows-file", str(windows_file))
    workers = load.worker_count
    if workers:
        if master_port is None:
            raise ValueError("a distributed run needs the master's port")
        cmd += [
            "--master", "--master-bind-host", LOOPBACK, "--master-bind-port", str(master_port),
            "--expect-workers", str(workers), "--expect-workers-max-wait", str(EXPECT_WORKERS_MAX_WAIT_S),
        ]  # fmt: skip
    return cmd


def worker_command(locustfile: Path, master_port: int) -> list[str]:
    return [*python_locust(locustfile), "--worker", "--master-host", LOOPBACK, "--master-port", str(master_port)]


def load_environment(load: LoadConfig, windows_file: Path, run_seconds: int, env: str,
                     base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every Locust process: the shape's figures from gate.yaml, the windows file."""
    figures = {**shape_environment(load, run_seconds), "AIDEON_ENV": env, "AIDEON_WINDOWS_FILE": str(windows_file)}
    if base is not None:
        return {**base, **figures}
    return settings().child_environment(figures)


def start_load(
    load: LoadConfig,
    locustfile: Path,
    gateway_url: str,
    run_dir: Path,
    windows_file: Path,
    run_seconds: int,
    env: str,
) -> LoadRun:
    log = run_dir / "locust.log"
    environ = load_environment(load, windows_file, run_seconds, env)
    port = free_port() if load.worker_count else None
    processes: list[subprocess.Popen[bytes]] = []
    # if the gate is killed outright, `aideon-resilience rollback RUN_DIR` stops the whole group
    process_undo = ProcessUndo.record(UndoLog(gate_undo_dir(run_dir)), "locust", "stop the gate's Locust run")
    with log.open("wb") as fh:
        master = subprocess.Popen(
            locust_command(load, locustfile, gateway_url, windows_file, run_seconds, port),
            stdout=fh, stderr=subprocess.STDOUT, env=environ, process_group=0,  # a group of its own
        )
        process_undo.started(master.pid, group=True)
        processes.append(master)
        try:  # the workers join the master's group: one signal reaches every process
            for i in range(load.worker_count):
                assert port is not None
                with (run_dir / f"locust-worker-{i + 1}.log").open("wb") as wfh:
                    processes.append(subprocess.Popen(
                        worker_command(locustfile, port), stdout=wfh, stderr=subprocess.STDOUT, env=environ,
                        process_group=master.pid,
                    ))
        except BaseException:
            LoadRun(processes, log, undo=process_undo).stop(grace=5)
            raise
    return LoadRun(processes, log, workers=load.worker_count, undo=process_undo)


def start_locust(spec: LoadSpec, progress: Progress) -> LoadRun | None:
    """The run's Locust load on this machine against the target's gateway (None without load or gateway)."""
    if not spec.load.enabled:
        return None
    if not spec.gateway_url:
        progress("load: no gateway URL, the suite runs without client traffic")
        return None
    run = start_load(spec.load, spec.locustfile, spec.gateway_url, spec.run_dir, spec.windows_file,
                     spec.run_seconds, spec.env)
    run.users, run.warmup_s, run.env = spec.load.users, spec.load.warmup_seconds, locust_environment(spec)
    return run
