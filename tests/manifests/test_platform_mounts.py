"""The files the architecture has services read are mounted where the services are told to look:
monitoring-service its scrape configuration, logging-service its log pipeline, api-gateway the
serving certificate cert-manager issues for it."""

from __future__ import annotations

import pytest

from tests.manifests.test_manifests import ENVIRONMENTS, WORKLOADS, container, of_kind, rendered

# service -> (the variable naming each file, the kind of object mounted, the object's name)
MOUNTS = {
    "monitoring-service": ({"SCRAPE_CONFIG_FILE": "prometheus.yml"}, "ConfigMap", "monitoring-scrape-config"),
    "logging-service": ({"LOG_PIPELINE_FILE": "pipeline.yaml"}, "ConfigMap", "logging-pipeline-config"),
    "api-gateway": ({"TLS_CERT_FILE": "tls.crt", "TLS_KEY_FILE": "tls.key", "TLS_CA_FILE": "ca.crt"},
                    "Certificate", "api-gateway-tls"),
}


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("service", sorted(MOUNTS))
def test_the_file_a_service_is_told_to_read_is_mounted_from_the_object_that_holds_it(env: str, service: str) -> None:
    files, kind, name = MOUNTS[service]
    objects = rendered(env)
    (workload,) = [w for w in of_kind(objects, *WORKLOADS) if w["metadata"]["name"] == service]
    namespace = workload["metadata"]["namespace"]
    (source,) = [o for o in of_kind(objects, kind)
                 if o["metadata"]["name"] == name and o["metadata"]["namespace"] == namespace]
    c = container(workload)
    env_values = {e["name"]: e.get("value") for e in c["env"]}
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    for variable, key in files.items():
        path = env_values[variable]
        assert path is not None, (service, variable)
        directory, _, file_name = path.rpartition("/")
        assert file_name == key, (service, variable, path)
        (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == directory]
        assert mount.get("readOnly") is True, (service, mount)
        volume = volumes[mount["name"]]
        if kind == "ConfigMap":
            assert volume["configMap"]["name"] == name and not volume["configMap"].get("optional")
            assert key in source["data"], (name, sorted(source["data"]))
        else:  # cert-manager writes tls.crt, tls.key and ca.crt into the Certificate's secret
            assert volume["secret"]["secretName"] == source["spec"]["secretName"]
            assert not volume["secret"].get("optional"), "the gateway must not start without its certificate"
            assert "server auth" in source["spec"]["usages"]
