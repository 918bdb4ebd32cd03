"""`aideon-resilience deploy --env E [--manifests DIR]`: apply an overlay server-side and wait for it.

For `--env local` the target is the local embedded cluster (brought up when needed) and the local
data plane is started; the gateway URL is printed as `export AIDEON_GATEWAY_URL=http://127.0.0.1:PORT`.
The work is done in `aideon_resilience.adapters.dataplane.deploy`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from aideon_resilience.errors import InputFileError, UsageError

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False)


def _progress(line: str) -> None:
    _err.print(f"[dim]·[/dim] {line}", markup=True, highlight=False, soft_wrap=True)


def deploy(
    env: str = typer.Option(..., "--env", help="environment overlay: manifests/environments/<ENV>"),
    manifests: str = typer.Option("manifests", "--manifests", help="the manifests directory"),
    context: str | None = typer.Option(None, "--context", help="kubeconfig context (not for --env local)"),
    timeout: float = typer.Option(300.0, "--timeout", help="seconds to wait for rollouts and the data plane"),
) -> None:
    """Apply an overlay server-side and wait for it; on the local cluster also start the data plane."""
    return _deploy(env, Path(manifests), context, timeout)


def _deploy(env: str, manifests: Path, context: str | None, timeout: float) -> None:
    # Kubernetes client and the data plane: only when the command runs (fast --help)
    from aideon_resilience.adapters.dataplane.deploy import deploy_overlay, ensure_deployed, render_all
    from aideon_resilience.adapters.kube.apply import default_kubeconfig
    from aideon_resilience.adapters.kube.client import check_reachable

    if not manifests.is_dir():
        raise InputFileError(manifests, "not a directory", "--manifests")
    overlay = manifests / "environments" / env
    if not (overlay / "kustomization.yaml").is_file():
        known = sorted(p.name for p in (manifests / "environments").glob("*") if (p / "kustomization.yaml").is_file())
        raise UsageError(f"--env: no overlay {overlay} (known: {', '.join(known) or 'none'})")
    if timeout <= 0:
        raise UsageError(f"--timeout must be > 0, got {timeout:g}")
    local = env == "local"
    if local and context:
        raise UsageError("--context: not used with --env local (the local cluster has its own)")
    # Render (and so validate) everything before anything changes.
    rendered = render_all(manifests, overlay)
    if not local:
        check_reachable(default_kubeconfig(), context)  # before anything is applied
        deploy_overlay(manifests, overlay, None, context, timeout, _progress, rendered)
        _out.print(f"deployed {overlay}")
        return
    # Kubernetes client and the data plane: only when the command runs (fast --help)
    from aideon_resilience.adapters.dataplane import dataplane_state
    from aideon_resilience.adapters.localcluster import LocalCluster

    cluster = LocalCluster()
    if not cluster.healthy():
        _progress("bringing the local cluster up")
        cluster.up(progress=_progress)
    url = ensure_deployed(manifests, overlay, _progress, timeout)
    st = dataplane_state(cluster.paths)
    prom = st.prometheus_url if st is not None and st.prometheus_url else "off"
    _out.print(f"deployed {overlay}; local data plane running, prometheus at {prom}")
    typer.echo(f"export AIDEON_GATEWAY_URL={url}")


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
