"""`aideon-resilience dataplane start|stop|status|run`: the local data plane of the embedded cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from aideon_resilience.errors import ClusterError, InputFileError, UsageError

if TYPE_CHECKING:
    from aideon_resilience.adapters.dataplane import DataPlaneOptions

dataplane_app = typer.Typer(
    help="Local data plane: stand-ins for pods, HAProxy, Prometheus (loopback only).", no_args_is_help=True
)
_out = Console(highlight=False, soft_wrap=True)


def _workdir(value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise InputFileError(path, "not a directory", field="--workdir")
    return path


def _options(
    namespace: list[str] | None, timeout_server: float, cpu_period: float, no_prometheus: bool, standin_arg: list[str]
) -> DataPlaneOptions:
    # Kubernetes client and the data plane: only when the command runs (fast --help)
    from aideon_resilience.adapters.dataplane import DataPlaneOptions

    if timeout_server <= 0:
        raise UsageError(f"--timeout-server must be > 0, got {timeout_server:g}")
    if cpu_period <= 0:
        raise UsageError(f"--cpu-period must be > 0, got {cpu_period:g}")
    return DataPlaneOptions(
        namespaces=list(namespace) if namespace else None,
        timeout_server_s=timeout_server,
        prometheus=not no_prometheus,
        cpu_period_s=cpu_period,
        standin_args=list(standin_arg or []),
    )


_NS = typer.Option(None, "--namespace", help="only pods of this namespace (repeatable; default all)")
_TS = typer.Option(5.0, "--timeout-server", help="HAProxy's server timeout, seconds")
_CPU = typer.Option(3.0, "--cpu-period", help="seconds between CPU samples")
_NOPROM = typer.Option(False, "--no-prometheus", help="do not start Prometheus")
_SARG = typer.Option(None, "--standin-arg", help="extra argument for every stand-in (repeatable)")
_WD = typer.Option(None, "--workdir", help="state directory (default: the cluster cache's dataplane/)")


@dataplane_app.command("run", hidden=True)
def run(
    namespace: list[str] | None = _NS,
    timeout_server: float = _TS,
    cpu_period: float = _CPU,
    no_prometheus: bool = _NOPROM,
    standin_arg: list[str] | None = _SARG,
    workdir: str | None = _WD,
) -> None:
    """Run the supervisor in the foreground (what `start` launches detached)."""
    # Kubernetes client and the data plane: only when the command runs (fast --help)
    from aideon_resilience.adapters.dataplane import default_workdir
    from aideon_resilience.adapters.dataplane.supervisor import run_supervisor
    from aideon_resilience.adapters.localcluster import ClusterPaths

    opts = _options(namespace, timeout_server, cpu_period, no_prometheus, standin_arg or [])
    chosen = _workdir(workdir)
    paths = ClusterPaths()
    run_supervisor(paths, chosen or default_workdir(paths), opts)


@dataplane_app.command("start")
def start(
    namespace: list[str] | None = _NS,
    timeout_server: float = _TS,
    cpu_period: float = _CPU,
    no_prometheus: bool = _NOPROM,
    standin_arg: list[str] | None = _SARG,
    workdir: str | None = _WD,
) -> None:
    """Start the data plane detached (reuses a running one) and print the gateway URL."""
    # Kubernetes client and the data plane: only when the command runs (fast --help)
    from aideon_resilience.adapters.dataplane import start_dataplane
    from aideon_resilience.adapters.localcluster import LocalCluster

    opts = _options(namespace, timeout_server, cpu_period, no_prometheus, standin_arg or [])
    chosen = _workdir(workdir)
    cluster = LocalCluster()
    if not cluster.healthy():
        raise ClusterError("the local cluster is not up (run: aideon-resilience cluster up)")
    st = start_dataplane(cluster.paths, opts, chosen)
    _out.print(f"local data plane running (pid {st.pid}); prometheus: {st.prometheus_url or 'off'}")
    typer.echo(f"export AIDEON_GATEWAY_URL={st.gateway_url}")


@dataplane_app.command("stop")
def stop(workdir: str | None = _WD) -> None:
    """Stop the data plane and every process it started."""
    # Kubernetes client and the data plane: only when the command runs (fast --help)
    from aideon_resilience.adapters.dataplane import stop_dataplane
    from aideon_resilience.adapters.localcluster import ClusterPaths

    stop_dataplane(ClusterPaths(), _workdir(workdir))
    _out.print("local data plane stopped")


@dataplane_app.command("status")
def status(workdir: str | None = _WD, fmt: str = typer.Option("text", "--format", help="text or json")) -> None:
    """Show the running data plane; exit 0 when it runs, 1 otherwise."""
    # Kubernetes client and the data plane: only when the command runs (fast --help)
    from aideon_resilience.adapters.dataplane import dataplane_state
    from aideon_resilience.adapters.localcluster import ClusterPaths

    if fmt not in ("text", "json"):
        raise UsageError(f"--format: must be text or json, got {fmt!r}")
    st = dataplane_state(ClusterPaths(), _workdir(workdir))
    if fmt == "json":
        typer.echo(json.dumps(st.to_dict() if st else None, indent=1))
    elif st is None:
        _out.print("no local data plane running (it starts with: aideon-resilience deploy --env local)")
    else:
        _out.print(f"local data plane {st.status} (pid {st.pid})")
        _out.print(f"  gateway     {st.gateway_url}")
        _out.print(f"  prometheus  {st.prometheus_url or 'off'}")
        _out.print(f"  haproxy     {st.haproxy_stats_url} (pid {st.haproxy_pid})")
        for s in st.standins:
            flag = "terminating" if s["terminating"] else ("ready" if s["ready"] else "not ready")
            typer.echo(f"  {s['namespace']}/{s['pod']:<50} pid {s['pid']} port {s['port']} {flag}")
    raise typer.Exit(0 if st is not None else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(dataplane_app, name="dataplane")
