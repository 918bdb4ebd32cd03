"""Offline validation of manifests/: every overlay builds, every object is schema-valid for Kubernetes
1.34 (custom resources against the CRDs in manifests/crds), lints clean for its declared shape, and
carries what the platform requires (probes, hardening, budgets, policies, quotas that hold the maxima).
"""

from __future__ import annotations

import copy
import math
import re
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from aideon_resilience.adapters.kustomize import build
from aideon_resilience.core.config.shape import ClusterShape, load_cluster_shape
from aideon_resilience.core.lint import LintContext, Severity, lint
from aideon_resilience.core.selectors import selector_matches

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
ENVIRONMENTS = ["development", "staging", "production", "local"]
K8S_VERSION = "1.34.0"  # the target version; kubernetes-validate ships its schemas
TIERS = {
    "frontend": {"ui-service", "web-client"},
    "backend": {"api-gateway", "auth-service", "subscription-service", "analytics-service", "dr-tardis-service"},
    "knowledge": {"vector-db", "knowledge-integration-service", "llm-provider-service"},
    "security": {
        "security-layer-service", "encryption-service", "consent-manager-service",
        "audit-logger-service", "compliance-reporter-service",
    },
    "infrastructure": {"monitoring-service", "logging-service", "backup-service"},
}
SERVICES = set().union(*TIERS.values())
CRITICAL_IN_PRODUCTION = {"api-gateway", "auth-service", "security-layer-service", "encryption-service", "vector-db"}
VECTOR_DB_AUTOSCALED = {"staging", "production"}  # components/knowledge/vector-db/autoscaling
CANARY = {"development": "api-gateway-v2"}  # components/backend/api-gateway/canary
WORKLOADS = ("Deployment", "StatefulSet")
Obj = dict[str, Any]


@cache
def rendered(env: str) -> tuple[Obj, ...]:
    return tuple(build(MANIFESTS / "environments" / env))


def shape(env: str) -> ClusterShape:
    return load_cluster_shape(MANIFESTS / "environments" / env)


def of_kind(objects: tuple[Obj, ...], *kinds: str) -> list[Obj]:
    return [o for o in objects if o["kind"] in kinds]


def by_name(objects: tuple[Obj, ...], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in of_kind(objects, kind)}


def container(workload: Obj) -> Obj:
    (c,) = workload["spec"]["template"]["spec"]["containers"]
    return c


# ---- custom resources against the CRDs ---------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """The CRD schema as jsonschema, rejecting fields the API server would prune or refuse."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            out.get("type") == "object"
            and "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@cache
def crd_schemas() -> dict[tuple[str, str], Obj]:
    schemas: dict[tuple[str, str], Obj] = {}
    for crd in build(MANIFESTS / "crds"):
        spec = crd["spec"]
        for version in spec["versions"]:
            key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
            schemas[key] = _strict(version["schema"]["openAPIV3Schema"])
    return schemas


def validate(obj: Obj) -> None:
    key = (obj["apiVersion"], obj["kind"])
    if key in crd_schemas():
        jsonschema.Draft7Validator(crd_schemas()[key]).validate(obj)
    else:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_overlay_builds(env: str) -> None:
    objects = rendered(env)
    canary = {CANARY[env]} if env in CANARY else set()
    assert len(of_kind(objects, "Deployment")) == 17 + len(canary)
    assert len(of_kind(objects, "StatefulSet")) == 1
    assert {o["metadata"]["name"] for o in of_kind(objects, *WORKLOADS)} == SERVICES | canary


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_the_cloud_environments_are_synced_by_argo_cd(env: str) -> None:
    """`local` is deployed by `cluster up` / `deploy --env local`; an Application there would claim otherwise."""
    apps = of_kind(rendered(env), "Application")
    if env == "local":
        assert apps == []
    else:
        assert [a["spec"]["source"]["path"] for a in apps] == [f"manifests/environments/{env}"]


@pytest.mark.parametrize("directory", ["base", "components", "crds", *[f"platform/{p}" for p in (
    "monitoring", "logging", "cert-manager", "gitops")]])
def test_shared_directories_build(directory: str) -> None:
    assert build(MANIFESTS / directory)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_object_validates_offline(env: str) -> None:
    errors = []
    for obj in rendered(env):
        try:
            validate(obj)
        except (jsonschema.ValidationError, kubernetes_validate.utils.SchemaNotFoundError) as exc:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {getattr(exc, 'message', exc)}")
    assert errors == []


def test_crds_validate_and_cover_every_custom_resource_used() -> None:
    for crd in build(MANIFESTS / "crds"):
        kubernetes_validate.validate(crd, K8S_VERSION, strict=True)
    used = {(o["apiVersion"], o["kind"]) for env in ENVIRONMENTS for o in rendered(env)}
    custom = {u for u in used if "." in u[0].split("/")[0] and not u[0].endswith(".k8s.io/v1")}
    assert custom == {
        ("networking.istio.io/v1", "VirtualService"), ("networking.istio.io/v1", "DestinationRule"),
        ("cert-manager.io/v1", "Certificate"), ("cert-manager.io/v1", "Issuer"),
        ("cert-manager.io/v1", "ClusterIssuer"), ("argoproj.io/v1alpha1", "Application"),
    }
    assert custom <= set(crd_schemas())


def _structural_gaps(schema: Any, path: str = "") -> list[str]:
    gaps: list[str] = []
    if isinstance(schema, dict):
        if "type" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            gaps.append(path or "/")
        for key, sub in (schema.get("properties") or {}).items():
            gaps += _structural_gaps(sub, f"{path}.{key}")
        if isinstance(schema.get("items"), dict):
            gaps += _structural_gaps(schema["items"], f"{path}[]")
        if isinstance(schema.get("additionalProperties"), dict):
            gaps += _structural_gaps(schema["additionalProperties"], f"{path}{{}}")
    return gaps


def test_crd_schemas_are_structural() -> None:
    for crd in build(MANIFESTS / "crds"):
        for version in crd["spec"]["versions"]:
            assert _structural_gaps(version["schema"]["openAPIV3Schema"]) == [], crd["metadata"]["name"]


def test_crd_validation_rejects_the_seed_fields() -> None:
    dr = copy.deepcopy(by_name(rendered("local"), "DestinationRule")["api-gateway"])
    validate(dr)
    dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutiveErrors"] = 5
    with pytest.raises(jsonschema.ValidationError, match="consecutiveErrors"):
        validate(dr)
    dr = copy.deepcopy(by_name(rendered("local"), "DestinationRule")["api-gateway"])
    dr["apiVersion"] = "networking.istio.io/v1alpha3"
    with pytest.raises(kubernetes_validate.utils.SchemaNotFoundError):
        validate(dr)


def test_kubernetes_validation_rejects_an_invalid_object() -> None:
    deployment = copy.deepcopy(by_name(rendered("local"), "Deployment")["api-gateway"])
    deployment["spec"]["replicas"] = "three"
    with pytest.raises(jsonschema.ValidationError):
        validate(deployment)


# ---- lint and deprecations ----------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_overlay_lints_clean_at_error_severity_for_its_shape(env: str) -> None:
    s = shape(env)
    findings = lint(list(rendered(env)), LintContext(nodes=s.nodes, zones=s.zone_count))
    assert [f.line() for f in findings if f.severity is Severity.ERROR] == []


def test_local_shape_is_what_the_local_cluster_creates() -> None:
    s = shape("local")
    assert (s.nodes, s.zones) == (6, ["zone-a", "zone-b", "zone-c"])
    assert (s.node_allocatable.cpu_millis, s.node_allocatable.memory_mib, s.node_allocatable.pods) == (
        8000, 32768, 110)


def test_no_deprecated_api_or_field_anywhere_in_manifests() -> None:
    pattern = re.compile(r"v1alpha3|networking\.istio\.io/v1beta1|patchesStrategicMerge|patchesJson6902|"
                         r"consecutiveErrors|^bases:|commonLabels", re.MULTILINE)
    hits = [
        f"{p.relative_to(MANIFESTS)}: {m.group(0)}"
        for p in sorted(MANIFESTS.rglob("*.yaml"))
        for m in pattern.finditer(p.read_text(encoding="utf-8"))
    ]
    assert hits == []


# ---- platform requirements ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_namespaces_tiers_pod_security_and_chaos_opt_in(env: str) -> None:
    namespaces = by_name(rendered(env), "Namespace")
    for tier in TIERS:
        labels = namespaces[f"aideon-{tier}"]["metadata"]["labels"]
        assert labels["aideon.io/tier"] == tier
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        expected = None if tier == "infrastructure" else "true"
        assert labels.get("chaos.aideon.io/allowed") == expected
    for obj in rendered(env):
        assert obj["kind"] != "Secret", "no Secret is committed"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_service_has_its_objects(env: str) -> None:
    objects = rendered(env)
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")}
    scaled = {d["metadata"]["name"] for d in of_kind(objects, "Deployment")} - {CANARY.get(env)}
    assert hpas == (scaled | {"vector-db"} if env in VECTOR_DB_AUTOSCALED else scaled)
    for kind in ("Service", "ServiceAccount", "PodDisruptionBudget", "DestinationRule", "VirtualService"):
        assert set(by_name(objects, kind)) >= SERVICES, kind
    for dr in of_kind(objects, "DestinationRule"):
        od = dr["spec"]["trafficPolicy"]["outlierDetection"]
        assert {"consecutive5xxErrors", "interval", "baseEjectionTime", "maxEjectionPercent"} <= set(od)
        assert dr["apiVersion"] == "networking.istio.io/v1"
    gateway_dr = by_name(objects, "DestinationRule")["api-gateway"]
    assert [s["name"] for s in gateway_dr["spec"]["subsets"]] == ["v1", "v2"]
    vector_db = by_name(objects, "StatefulSet")["vector-db"]
    assert vector_db["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "fast"
    assert {"fast", "standard"} <= set(by_name(objects, "StorageClass"))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_gateway_route_splits_over_its_subsets_as_the_environment_says(env: str) -> None:
    objects = rendered(env)
    subsets = {s["name"]: s["labels"] for s in by_name(objects, "DestinationRule")["api-gateway"]["spec"]["subsets"]}
    route = by_name(objects, "VirtualService")["api-gateway"]["spec"]["http"][0]["route"]
    weights = {r["destination"]["subset"]: r["weight"] for r in route}
    deployments = by_name(objects, "Deployment")
    stable = deployments["api-gateway"]
    assert subsets == {"v1": {"version": "v1"}, "v2": {"version": "v2"}}
    assert weights == ({"v1": 90, "v2": 10} if env in CANARY else {"v1": 100, "v2": 0})  # the seed's 90/10
    assert selector_matches({"matchLabels": subsets["v1"]}, stable["spec"]["template"]["metadata"]["labels"])
    pdb = by_name(objects, "PodDisruptionBudget")["api-gateway"]["spec"]["selector"]
    if env not in CANARY:
        assert not any(n.startswith("api-gateway-") for n in deployments)
        return
    canary = deployments[CANARY[env]]
    pod = canary["spec"]["template"]["metadata"]["labels"]
    assert selector_matches({"matchLabels": subsets["v2"]}, pod)
    assert not selector_matches({"matchLabels": subsets["v1"]}, pod)
    assert pod["app.kubernetes.io/name"] == "api-gateway"  # behind the gateway's Service
    assert by_name(objects, "Service")["api-gateway"]["spec"]["selector"].items() <= pod.items()
    # neither the stable Deployment, its HPA's scale nor its budget counts the canary's pod
    assert not selector_matches(stable["spec"]["selector"], pod) and not selector_matches(pdb, pod)
    assert selector_matches(canary["spec"]["selector"], pod)
    assert canary["spec"]["replicas"] == 1
    # the same pod spec otherwise: the canary is the gateway at another version
    assert canary["spec"]["template"]["spec"] == stable["spec"]["template"]["spec"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_containers_are_probed_hardened_observable(env: str) -> None:
    for wl in of_kind(rendered(env), *WORKLOADS):
        name = "api-gateway" if wl["metadata"]["name"] == CANARY.get(env) else wl["metadata"]["name"]
        template = wl["spec"]["template"]
        labels = template["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == name
        assert labels["app.kubernetes.io/part-of"] == "aideon"
        assert labels["aideon.io/tier"] == wl["metadata"]["namespace"].removeprefix("aideon-")
        assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
        c = container(wl)
        assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
        assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert c["livenessProbe"]["httpGet"]["path"] == "/health"
        assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and {"cpu", "memory"} <= set(
            c["resources"]["limits"])
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
        assert sc["capabilities"]["drop"] == ["ALL"] and sc["seccompProfile"]["type"] == "RuntimeDefault"
        env_vars = {e["name"]: e for e in c["env"]}
        assert env_vars["LOG_FORMAT"]["value"] == "json"
        assert env_vars["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"].startswith("http://monitoring-service.")
        assert env_vars["OTEL_SERVICE_NAME"]["value"] == name
        for e in c["env"]:  # secrets are referenced, never inlined, and may be absent
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            assert ref is None or ref["optional"] is True


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_default_deny_and_quota_in_every_namespace(env: str) -> None:
    objects = rendered(env)
    for tier in TIERS:
        ns = f"aideon-{tier}"
        policies = [p for p in of_kind(objects, "NetworkPolicy") if p["metadata"]["namespace"] == ns]
        deny = [p for p in policies if p["metadata"]["name"] == "default-deny-all"]
        assert deny and deny[0]["spec"]["podSelector"] == {}
        assert deny[0]["spec"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny[0]["spec"]
        assert any(p["metadata"]["name"] == "allow-dns-egress" for p in policies)
        assert [q for q in of_kind(objects, "ResourceQuota") if q["metadata"]["namespace"] == ns]


def _anti_affinity(wl: Obj) -> Obj:
    return wl["spec"]["template"]["spec"].get("affinity", {}).get("podAntiAffinity", {})


def test_production_anti_affinity_required_on_critical_preferred_elsewhere() -> None:
    for wl in of_kind(rendered("production"), *WORKLOADS):
        anti = _anti_affinity(wl)
        name = wl["metadata"]["name"]
        assert anti.get("preferredDuringSchedulingIgnoredDuringExecution"), name
        required = anti.get("requiredDuringSchedulingIgnoredDuringExecution")
        assert bool(required) == (name in CRITICAL_IN_PRODUCTION), name


def test_production_required_spread_maxima_fit_after_losing_a_zone() -> None:
    s = shape("production")
    left = s.nodes - math.ceil(s.nodes / s.zone_count)
    objects = rendered("production")
    for wl in of_kind(objects, *WORKLOADS):
        if _anti_affinity(wl).get("requiredDuringSchedulingIgnoredDuringExecution"):
            assert peak_replicas(objects, wl) <= left, wl["metadata"]["name"]


@pytest.mark.parametrize("env", sorted(VECTOR_DB_AUTOSCALED))
def test_vector_db_scales_with_its_budget_and_claims(env: str) -> None:
    objects = rendered(env)
    sts = by_name(objects, "StatefulSet")["vector-db"]
    hpa = by_name(objects, "HorizontalPodAutoscaler")["vector-db"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "vector-db"}
    assert "replicas" not in sts["spec"] and hpa["minReplicas"] >= 3 and hpa["maxReplicas"] > hpa["minReplicas"]
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"
    pdb = by_name(objects, "PodDisruptionBudget")["vector-db"]["spec"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"]["matchLabels"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("env", ["development", "staging", "production"])
def test_cloud_environments_have_their_volumes_made_by_the_csi_driver(env: str) -> None:
    objects = rendered(env)
    classes = by_name(objects, "StorageClass")
    for name in ("fast", "standard"):
        sc = classes[name]
        assert sc["provisioner"] == "ebs.csi.aws.com", (env, name)
        assert sc["volumeBindingMode"] == "WaitForFirstConsumer"  # in the zone of the pod's node
        assert sc["parameters"]["encrypted"] == "true" and sc["allowVolumeExpansion"] is True
    assert not of_kind(objects, "PersistentVolume"), "a cloud environment pre-creates no volume"


def test_the_local_cluster_has_its_volumes_made_by_the_local_provisioner() -> None:
    objects = rendered("local")
    for sc in by_name(objects, "StorageClass").values():
        assert sc["provisioner"] == "aideon.io/local-volume", sc["metadata"]["name"]
        assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert not of_kind(objects, "PersistentVolume")


def _hpa(env: str, name: str) -> Obj:
    return by_name(rendered(env), "HorizontalPodAutoscaler")[name]["spec"]


def test_gateway_bounds_per_environment() -> None:
    assert _hpa("production", "api-gateway")["maxReplicas"] > 10  # the seed's cap, see README
    assert _hpa("production", "api-gateway")["maxReplicas"] < shape("production").nodes
    local = _hpa("local", "api-gateway")
    assert (local["minReplicas"], local["maxReplicas"]) == (3, 5)
    gateway = by_name(rendered("local"), "Deployment")["api-gateway"]
    (term,) = _anti_affinity(gateway)["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"


def test_development_runs_one_replica_and_budgets_still_allow_a_drain() -> None:
    objects = rendered("development")
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(objects, "HorizontalPodAutoscaler")}
    lowest = {
        hpas[d["metadata"]["name"]]["spec"]["minReplicas"] if d["metadata"]["name"] in hpas else d["spec"]["replicas"]
        for d in of_kind(objects, *WORKLOADS)
    }
    assert lowest == {1}
    for pdb in of_kind(objects, "PodDisruptionBudget"):
        assert pdb["spec"].get("maxUnavailable", 0) >= 1 or pdb["spec"].get("minAvailable", 1) < 1


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_workloads_scaled_by_an_hpa_leave_replicas_to_it(env: str) -> None:
    objects = rendered(env)
    targets = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")}
    pinned = [d["metadata"]["name"] for d in of_kind(objects, *WORKLOADS)
              if d["metadata"]["name"] in targets and "replicas" in d["spec"]]
    assert not pinned, f"{env}: an apply would reset the HPA of {pinned}"


# ---- capacity: the declared clusters and quotas hold the maxima --------------------------------------

_UNITS = {"m": 0.001, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "": 1}


def quantity(value: str | int) -> float:
    match = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi|Ti)?", str(value))
    assert match, value
    return float(match.group(1)) * _UNITS[match.group(2) or ""]


def peak_replicas(objects: tuple[Obj, ...], wl: Obj) -> int:
    hpas = {
        (h["spec"]["scaleTargetRef"]["kind"], h["spec"]["scaleTargetRef"]["name"]): h
        for h in of_kind(objects, "HorizontalPodAutoscaler")
    }
    hpa = hpas.get((wl["kind"], wl["metadata"]["name"]))
    return int(hpa["spec"]["maxReplicas"]) if hpa else int(wl["spec"]["replicas"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_quotas_hold_every_workload_at_its_maximum(env: str) -> None:
    objects = rendered(env)
    used: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for wl in of_kind(objects, *WORKLOADS):
        ns, n, res = wl["metadata"]["namespace"], peak_replicas(objects, wl) + 1, container(wl)["resources"]
        used[ns]["pods"] += n  # +1: a rolling update surges one pod
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                used[ns][f"{kind}.{r}"] += n * quantity(res[kind][r])
        for claim in wl["spec"].get("volumeClaimTemplates", []):  # one claim per ordinal, never more
            used[ns]["persistentvolumeclaims"] += n - 1
            used[ns]["requests.storage"] += (n - 1) * quantity(claim["spec"]["resources"]["requests"]["storage"])
    for quota in of_kind(objects, "ResourceQuota"):
        hard, ns = quota["spec"]["hard"], quota["metadata"]["namespace"]
        for key, amount in used[ns].items():
            assert amount <= quantity(hard[key]), f"{env} {ns} {key}: {amount} > {hard[key]}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_declared_cluster_holds_every_workload_at_its_maximum(env: str) -> None:
    objects, s = rendered(env), shape(env)
    cpu = mem = pods = 0.0
    for wl in of_kind(objects, *WORKLOADS):
        n, requests = peak_replicas(objects, wl), container(wl)["resources"]["requests"]
        cpu += n * quantity(requests["cpu"])
        mem += n * quantity(requests["memory"])
        pods += n
    # one node may be drained: the remaining nodes must still hold the peak
    usable = s.nodes - 1
    assert cpu <= usable * s.node_allocatable.cpu_millis / 1000
    assert mem <= usable * s.node_allocatable.memory_mib * 2**20
    assert pods <= usable * s.node_allocatable.pods
