"""Every environment generates the platform's `aideon-config` ConfigMap in each tier namespace
(configMapGenerator over `aideon-config.env`), with values the services accept, and every service
consumes the one of its own namespace through envFrom with nothing overriding it."""

from __future__ import annotations

import pytest

from aideon_resilience.core.config.platform import CONFIGMAP_NAME, KEYS, platform_config
from tests.manifests.test_manifests import (
    CANARY,
    ENVIRONMENTS,
    MANIFESTS,
    TIERS,
    WORKLOADS,
    container,
    of_kind,
    rendered,
)


def configmaps(env: str) -> dict[str, dict[str, object]]:
    """The generated aideon-config ConfigMap of each namespace."""
    found: dict[str, dict[str, object]] = {}
    for cm in of_kind(rendered(env), "ConfigMap"):
        if cm["metadata"]["name"].startswith(CONFIGMAP_NAME + "-"):
            namespace = cm["metadata"]["namespace"]
            assert namespace not in found, f"{env}: two {CONFIGMAP_NAME} ConfigMaps in {namespace}"
            found[namespace] = cm
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_tier_namespace_gets_the_environments_configuration(env: str) -> None:
    cms = configmaps(env)
    assert set(cms) == {f"aideon-{tier}" for tier in TIERS}
    source = MANIFESTS / "environments" / env / "aideon-config.env"
    for cm in cms.values():
        config = platform_config(cm["data"], f"{source} (rendered in {cm['metadata']['namespace']})")  # type: ignore[arg-type]
        assert config.environment == env
        assert config.log_level == ("debug" if env == "development" else "info")


def test_development_alone_logs_at_debug_and_turns_on_experimental_features() -> None:
    flags = {env: platform_config(next(iter(configmaps(env).values()))["data"], env).feature_flags  # type: ignore[arg-type]
             for env in ENVIRONMENTS}
    assert "experimental-models" in flags["development"]
    assert "experimental-models" not in flags["production"]
    assert flags["local"] == flags["production"], "the local gate runs production's features"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_service_reads_the_configmap_of_its_namespace_and_overrides_none_of_it(env: str) -> None:
    cms = configmaps(env)
    workloads = of_kind(rendered(env), *WORKLOADS)
    assert len(workloads) == (19 if env in CANARY else 18)  # the gateway's canary reads it too
    for wl in workloads:
        c = container(wl)
        namespace = wl["metadata"]["namespace"]
        refs = [e["configMapRef"] for e in c.get("envFrom", []) if "configMapRef" in e]
        assert refs == [{"name": cms[namespace]["metadata"]["name"]}], (env, wl["metadata"]["name"], refs)
        overridden = {e["name"] for e in c.get("env", [])} & set(KEYS)
        assert not overridden, f"{env}: {wl['metadata']['name']} sets {sorted(overridden)} in env, hiding the ConfigMap"

