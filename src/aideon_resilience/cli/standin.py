"""`aideon-resilience standin SERVICE --port P`: run the stand-in process of one platform service."""

from __future__ import annotations

import asyncio
import sys

import typer

from aideon_resilience.errors import UsageError


def standin(
    service: str = typer.Argument(..., help="platform service, e.g. api-gateway"),
    port: int = typer.Option(..., "--port", help="TCP port (0 picks a free one)"),
    host: str = typer.Option("127.0.0.1", "--host", help="listen address (loopback only)"),
    cpu_scale: float = typer.Option(1.0, "--cpu-scale", help="multiplier of the profile's CPU per request"),
    latency_scale: float = typer.Option(1.0, "--latency-scale", help="multiplier of the profile's latency"),
    upstream_timeout: float = typer.Option(5.0, "--upstream-timeout", help="seconds to wait for a downstream call"),
    seed: int | None = typer.Option(None, "--seed", help="seed of the latency draws"),
) -> None:
    """Run the stand-in of SERVICE: gateway routes, /health, /ready, /metrics, /admin/{fail,hang,recover}."""
    from aideon_resilience.adapters.standin.server import StandinConfig, is_loopback_host, serve, upstreams_from_env
    from aideon_resilience.core.profiles import PROFILES
    from aideon_resilience.errors import SafetyRefusal

    if service not in PROFILES:
        raise UsageError(f"standin: unknown service {service!r} (known: {', '.join(sorted(PROFILES))})")
    if not 0 <= port <= 65535:
        raise UsageError(f"standin: --port: {port} is not a TCP port")
    if cpu_scale < 0 or latency_scale < 0 or upstream_timeout <= 0:
        raise UsageError("standin: --cpu-scale and --latency-scale must be >= 0, --upstream-timeout > 0")
    if not is_loopback_host(host):
        raise SafetyRefusal(f"standin: --host: refusing non-loopback address {host!r} (loopback only)")
    config = StandinConfig(
        service=service,
        host=host,
        port=port,
        cpu_scale=cpu_scale,
        latency_scale=latency_scale,
        upstream_timeout_s=upstream_timeout,
        upstreams=upstreams_from_env(),
        seed=seed,
    )

    def ready(actual: int) -> None:
        print(f"standin {service} listening on http://{host}:{actual}", flush=True)

    try:
        asyncio.run(serve(config, ready))
    except OSError as exc:
        from aideon_resilience.errors import InfrastructureError

        raise InfrastructureError(f"standin: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("standin")(standin)
