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


def check_reachable(kubeconfig: Path, context: str | None, timeout: float = 5.0) -> None:
    """Refuse, before anything changes, a kubeconfig that cannot be read, lacks the context (None:
    its current context), or whose API server does not answer (InputFileError naming the kubeconfig
    and the field)."""
    if not kubeconfig.is_file():
        raise InputFileError(kubeconfig, "no such kubeconfig", field="KUBECONFIG")
    try:
        contexts, active = config.list_kube_config_contexts(config_file=str(kubeconfig))
    except Exception as exc:  # malformed YAML, binary bytes, a document that is not a kubeconfig
        raise InputFileError(kubeconfig, f"unreadable kubeconfig ({_one_line(exc)})") from None
    if context is None:
        context = (active or {}).get("name")
        if not context:
            raise InputFileError(kubeconfig, "not set (and no --context given)", field="current-context")
    entry = next((c for c in contexts or [] if c.get("name") == context), None)
    if entry is None:
        raise InputFileError(kubeconfig, f"no context {context!r}", field="contexts")
    cluster = (entry.get("context") or {}).get("cluster", "?")
    api = api_client_for(kubeconfig, context)
    try:
        client.VersionApi(api).get_code(_request_timeout=timeout, _preload_content=False)
    except client.ApiException:
        return  # it answered (401/403 included): reachable
    except Exception as exc:  # refused, timed out, TLS, DNS
        raise InputFileError(kubeconfig, f"API server {api.configuration.host} does not answer ({_one_line(exc)})",
                             field=f"clusters[{cluster}].server") from None
    finally:
        api.close()


def _one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
