"""`aideon-resilience standin SERVICE --port P`: run the stand-in process of one platform service."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from aideon_resilience.core.config.platform import KEYS, PlatformConfig, platform_config
from aideon_resilience.errors import InfrastructureError, SafetyRefusal, UsageError
from aideon_resilience.settings import settings


def _platform_config() -> PlatformConfig | None:
    """The pod's aideon-config (the data plane resolves its envFrom), with logging at its level.
    None when run by hand (no AIDEON_POD_NAME): a shell's own ENVIRONMENT or LOG_LEVEL is not
    the platform's configuration."""
    if settings().raw("AIDEON_POD_NAME") is None:
        return None
    given = {key: value for key in KEYS if (value := settings().exact(key)) is not None}
    if not given:
        return None
    platform = platform_config(given, "standin: the pod's aideon-config")
    logging.basicConfig(level=platform.log_level.upper(), stream=sys.stderr,
                        format='{"level": "%(levelname)s", "logger": "%(name)s", "message": "%(message)s"}')
    logging.getLogger("aideon.standin").debug(
        "environment %s, feature flags %s", platform.environment, ",".join(platform.feature_flags) or "none")
    return platform


def standin(
    service: Annotated[str, typer.Argument(help="platform service, e.g. api-gateway")],
    port: Annotated[int, typer.Option("--port", help="TCP port (0 picks a free one)")],
    host: Annotated[str, typer.Option("--host", help="listen address (loopback only)")] = "127.0.0.1",
    cpu_scale: Annotated[float, typer.Option("--cpu-scale", help="multiplier of the profile's CPU per request")] = 1.0,
    latency_scale: Annotated[float, typer.Option("--latency-scale", help="multiplier of the profile's latency")] = 1.0,
    upstream_timeout: Annotated[
        float, typer.Option("--upstream-timeout", help="seconds to wait for a downstream call")
    ] = 5.0,
    seed: Annotated[int | None, typer.Option("--seed", help="seed of the latency draws")] = None,
) -> None:
    """Run the stand-in of SERVICE: gateway routes, /health, /ready, /metrics, /admin/{fail,hang,recover}."""
    # Kubernetes client and the data plane: only when the command runs (fast --help)
    from aideon_resilience.adapters.localhost import port_in_use
    from aideon_resilience.adapters.standin.server import StandinConfig, serve
    from aideon_resilience.adapters.standin.upstream import is_loopback_host, upstreams_from_env
    from aideon_resilience.core.profiles import PROFILES

    if service not in PROFILES:
        raise UsageError(f"standin: unknown service {service!r} (known: {', '.join(sorted(PROFILES))})")
    if not 0 <= port <= 65535:
        raise UsageError(f"standin: --port: {port} is not a TCP port")
    if cpu_scale < 0 or latency_scale < 0 or upstream_timeout <= 0:
        raise UsageError("standin: --cpu-scale and --latency-scale must be >= 0, --upstream-timeout > 0")
    if not is_loopback_host(host):
        raise SafetyRefusal(f"standin: --host: refusing non-loopback address {host!r} (loopback only)")
    if port and port_in_use(port, host):
        raise UsageError(f"standin: --port: {host}:{port} is already in use")
    attempt_log_port = settings().integer("AIDEON_ATTEMPT_LOG_PORT")
    if attempt_log_port is not None and not 0 < attempt_log_port <= 65535:
        raise UsageError(f"standin: AIDEON_ATTEMPT_LOG_PORT: {attempt_log_port} is not a UDP port")
    platform = _platform_config()
    config = StandinConfig(
        service=service,
        host=host,
        port=port,
        cpu_scale=cpu_scale,
        latency_scale=latency_scale,
        upstream_timeout_s=upstream_timeout,
        upstreams=upstreams_from_env(),
        seed=seed,
        platform=platform,
        attempt_log_port=attempt_log_port,
    )

    def ready(actual: int) -> None:
        print(f"standin {service} listening on http://{host}:{actual}", flush=True)

    try:
        import asyncio  # the event loop (about 15 ms to import): only when a stand-in runs

        asyncio.run(serve(config, ready))
    except OSError as exc:
        raise InfrastructureError(f"standin: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("standin")(standin)
