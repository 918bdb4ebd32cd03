"""An API client for a kubeconfig and context, with the retries the sampler does itself turned off."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client, config

from aideon_resilience.errors import InputFileError


def api_client_for(kubeconfig: Path | None, context: str | None = None) -> client.ApiClient:
    """Client for a kubeconfig and context; `None` means the pod's own service account (in-cluster)."""
    if kubeconfig is None:
        cfg = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=cfg)
        except config.ConfigException as exc:
            raise InputFileError("in-cluster configuration", str(exc)) from None
        api = client.ApiClient(cfg)
        api.configuration.retries = 0
        return api
    try:
        api = config.new_client_from_config(config_file=str(kubeconfig), context=context)
    except config.ConfigException as exc:
        raise InputFileError(kubeconfig, f"unusable kubeconfig: {exc}") from None
    api.configuration.retries = 0
    return api
