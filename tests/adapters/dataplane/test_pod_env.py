"""A pod's container environment as the kubelet builds it (pod_env), from real V1Pod objects."""

from __future__ import annotations

import pytest
from kubernetes import client

from aideon_resilience.adapters.dataplane.pod_env import (
    ConfigMapSource,
    ContainerEnv,
    EnvEntry,
    MissingConfigMap,
    container_env,
    resolve,
)

FIELDS = {"metadata.name": "api-gateway-7f9", "metadata.namespace": "aideon-backend", "spec.nodeName": "kwok-node-2"}


def _pod(env_from: list[client.V1EnvFromSource], env: list[client.V1EnvVar]) -> client.V1Pod:
    container = client.V1Container(name="api-gateway", env_from=env_from, env=env)
    return client.V1Pod(spec=client.V1PodSpec(containers=[container]))


def test_the_spec_is_read_from_the_first_container() -> None:
    pod = _pod(
        [client.V1EnvFromSource(config_map_ref=client.V1ConfigMapEnvSource(name="aideon-config-abc")),
         client.V1EnvFromSource(config_map_ref=client.V1ConfigMapEnvSource(name="extra", optional=True), prefix="X_"),
         client.V1EnvFromSource(secret_ref=client.V1SecretEnvSource(name="s"))],
        [client.V1EnvVar(name="PORT", value="8080"),
         client.V1EnvVar(name="POD_NAME", value_from=client.V1EnvVarSource(
             field_ref=client.V1ObjectFieldSelector(field_path="metadata.name"))),
         client.V1EnvVar(name="KEY", value_from=client.V1EnvVarSource(
             secret_key_ref=client.V1SecretKeySelector(name="s", key="k", optional=True)))],
    )
    assert container_env(pod) == ContainerEnv(
        (ConfigMapSource("aideon-config-abc"), ConfigMapSource("extra", True, "X_")),
        (EnvEntry("PORT", value="8080"), EnvEntry("POD_NAME", field_path="metadata.name")),
    )
    assert container_env(client.V1Pod(spec=client.V1PodSpec(containers=[]))) == ContainerEnv()


def test_configmaps_first_then_env_overrides_expands_and_reads_pod_fields() -> None:
    spec = ContainerEnv(
        (ConfigMapSource("aideon-config"), ConfigMapSource("more", prefix="APP_")),
        (EnvEntry("LOG_LEVEL", value="warning"),
         EnvEntry("POD_NAMESPACE", field_path="metadata.namespace"),
         EnvEntry("NODE", field_path="spec.nodeName"),
         EnvEntry("ATTRS", value="ns=$(POD_NAMESPACE),env=$(ENVIRONMENT),later=$(LATER),cost=$$(POD_NAMESPACE)"),
         EnvEntry("LATER", value="x")),
    )
    data = {"aideon-config": {"ENVIRONMENT": "local", "LOG_LEVEL": "info", "not valid!": "skipped"},
            "more": {"MODE": "fast"}}
    env = resolve(spec, data.get, FIELDS)
    assert env == {
        "ENVIRONMENT": "local",
        "LOG_LEVEL": "warning",  # env wins over envFrom
        "APP_MODE": "fast",
        "POD_NAMESPACE": "aideon-backend",
        "NODE": "kwok-node-2",
        "ATTRS": "ns=aideon-backend,env=local,later=$(LATER),cost=$(POD_NAMESPACE)",
        "LATER": "x",
    }


def test_a_missing_configmap_stops_the_container_unless_optional() -> None:
    spec = ContainerEnv((ConfigMapSource("absent", optional=True), ConfigMapSource("aideon-config-abc")))
    with pytest.raises(MissingConfigMap, match="configmap 'aideon-config-abc' not found"):
        resolve(spec, {}.get, FIELDS)
    assert resolve(ContainerEnv((ConfigMapSource("absent", optional=True),)), {}.get, FIELDS) == {}
