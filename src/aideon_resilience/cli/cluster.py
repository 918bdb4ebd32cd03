"""`aideon-resilience cluster up|down|status|env`: the local embedded cluster."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from aideon_resilience.adapters.localcluster import LocalCluster

# The local cluster's adapters import the Kubernetes client (about 0.3 s): each command imports
# them when it runs, so that `aideon-resilience --help` and other commands start fast.

cluster_app = typer.Typer(help="The local embedded cluster (real control plane, KWOK nodes).", no_args_is_help=True)
_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)


def _local_cluster() -> LocalCluster:
    from aideon_resilience.adapters.localcluster import LocalCluster  # Kubernetes client: only when used

    return LocalCluster()


def _progress(line: str) -> None:
    if line.strip():
        _err.print(f"[dim]·[/dim] {line}", markup=True, highlight=False, soft_wrap=True)


@cluster_app.command("up")
def up(
    nodes: int | None = typer.Option(None, "--nodes", help="KWOK nodes to create (default: DEFAULT_NODES, 6)."),
    zones: int | None = typer.Option(
        None, "--zones", help="Zones the nodes are spread over (default: DEFAULT_ZONES, 3)."
    ),
    port: int = typer.Option(0, "--port", help="kube-apiserver port on 127.0.0.1 (0: pick a free one)."),
) -> None:
    """Start (or reuse) the local cluster; builds its binaries first when they are missing."""
    # Kubernetes client and the data plane: only when the command runs (fast --help)
    from aideon_resilience.adapters.localcluster.cluster import DEFAULT_NODES, DEFAULT_ZONES

    nodes = DEFAULT_NODES if nodes is None else nodes
    zones = DEFAULT_ZONES if zones is None else zones
    cluster = _local_cluster()
    with _err.status("bringing the local cluster up", spinner="dots"):
        st = cluster.up(nodes=nodes, zones=zones, apiserver_port=port, progress=_progress)
    _out.print(f"local cluster {st.context} is up: {st.ready_nodes} nodes Ready over {len(st.nodes)} zones")
    typer.echo(f"export KUBECONFIG={st.kubeconfig}")


@cluster_app.command("down")
def down() -> None:
    """Stop every process of the local cluster and remove its state."""
    from aideon_resilience.adapters.localenv import stop_local  # Kubernetes client: only when used

    existed = stop_local(_local_cluster(), progress=_progress)
    _out.print("local cluster stopped" if existed else "no local cluster was running")


@cluster_app.command("status")
def status(
    fmt: str = typer.Option("text", "--format", help="text or json"),
) -> None:
    """Report each component; exit 0 when healthy, 1 otherwise."""
    if fmt not in ("text", "json"):
        raise typer.BadParameter("must be text or json", param_hint="--format")
    st = _local_cluster().status()
    if fmt == "json":
        _out.print_json(json.dumps(st.to_dict()))
    else:
        if not st.exists:
            _out.print("no local cluster (run: aideon-resilience cluster up)")
        else:
            _out.print(f"cluster {st.context}: {'healthy' if st.healthy else 'NOT healthy'}")
            for c in st.components:
                state = f"running (pid {c.pid})" if c.running else "stopped"
                _out.print(f"  {c.name:<24} {state}")
            for zone, names in st.nodes.items():
                _out.print(f"  zone {zone or '(none)'}: {', '.join(names)}")
            _out.print(f"  nodes Ready: {st.ready_nodes}; metrics.k8s.io: {'available' if st.metrics_api else 'no'}")
    raise typer.Exit(0 if st.healthy else 1)


@cluster_app.command("env")
def env() -> None:
    """Print the shell lines that point tools at the local cluster (use with eval)."""
    from aideon_resilience.adapters.localenv import local_env_lines  # Kubernetes client: only when used

    for line in local_env_lines(_local_cluster()):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.add_typer(cluster_app, name="cluster")
