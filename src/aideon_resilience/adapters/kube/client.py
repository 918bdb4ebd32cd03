"""An API client for a kubeconfig and context, with the retries the sampler does itself turned off."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client, config

from aideon_resilience.errors import InputFileError


def api_client_for(kubeconfig: Path, context: str | None = None) -> client.ApiClient:
    try:
        api = config.new_client_from_config(config_file=str(kubeconfig), context=context)
    except config.ConfigException as exc:
        raise InputFileError(kubeconfig, f"unusable kubeconfig: {exc}") from None
    api.configuration.retries = 0
    return api
