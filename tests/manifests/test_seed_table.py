"""The seed table of manifests/README.md ("The seed, element by element") says what the manifests hold.

The service table is compared value by value with the rendered overlays; in the other tables every
backquoted value of the "Ours" column must occur in a file the row names. Every row gives a reason.
"""

from __future__ import annotations

import re
from functools import cache

import pytest

from aideon_resilience.adapters.kustomize import build
from tests.manifests.test_manifests import MANIFESTS, SERVICES, WORKLOADS, container, of_kind, rendered

README = MANIFESTS / "README.md"
SECTION = "## The seed, element by element"
ENVS = ("development", "staging", "production", "local")  # the order of the Replicas column
SIZED = ("staging", "production")  # the order of the Sized column
CODE = re.compile(r"`([^`]+)`")
NOTE = re.compile(r"\[(S\d+)\]")
Row = dict[str, str]


def split_row(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def tables(text: str) -> list[list[Row]]:
    """Every markdown table of the seed section, as rows keyed by their header."""
    body = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    found: list[list[Row]] = []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            header = split_row(lines[i])
            rows: list[Row] = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = split_row(lines[i])
                assert len(cells) == len(header), f"README.md: a row of {len(cells)} cells under {header}: {lines[i]}"
                rows.append(dict(zip(header, cells, strict=True)))
                i += 1
            found.append(rows)
        else:
            i += 1
    return found


@cache
def seed_tables() -> list[list[Row]]:
    found = tables(README.read_text(encoding="utf-8"))
    expected = "services, resources, environments"
    assert len(found) == 3, f"{README}: the seed section has {len(found)} tables, expected {expected}"
    return found


def code(cell: str) -> list[str]:
    return CODE.findall(cell)


@cache
def workloads(env: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in of_kind(rendered(env), *WORKLOADS)}


@cache
def hpas(env: str) -> dict[str, dict]:
    return {o["spec"]["scaleTargetRef"]["name"]: o for o in of_kind(rendered(env), "HorizontalPodAutoscaler")}


def size(c: dict, kind: str) -> str:
    r = c["resources"][kind]
    return f"{r['cpu']}/{r['memory']}"


def replicas(env: str, service: str) -> str:
    hpa = hpas(env).get(service)
    if hpa:
        return f"{hpa['spec']['minReplicas']}..{hpa['spec']['maxReplicas']}"
    return str(workloads(env)[service]["spec"]["replicas"])


def required_anti_affinity(env: str, service: str) -> bool:
    spec = workloads(env)[service]["spec"]["template"]["spec"]
    anti = spec.get("affinity", {}).get("podAntiAffinity", {})
    return bool(anti.get("requiredDuringSchedulingIgnoredDuringExecution"))


@cache
def base_workloads() -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in build(MANIFESTS / "components") if o["kind"] in WORKLOADS}


def service_rows() -> dict[str, Row]:
    rows = seed_tables()[0]
    names = [r["Service"] for r in rows]
    assert len(names) == len(set(names)), f"{README}: a service has two rows"
    return {r["Service"]: r for r in rows}


def expected_row(service: str, base: dict) -> Row:
    c = container(base)
    sized = " · ".join(size(container(workloads(env)[service]), "requests") for env in SIZED)
    required = [env for env in ENVS if required_anti_affinity(env, service)]
    return {
        "Tier": base["metadata"]["namespace"].removeprefix("aideon-"),
        "Port": str(c["ports"][0]["containerPort"]),
        "Base requests → limits": f"`{size(c, 'requests')}` → `{size(c, 'limits')}`",
        "Sized": f"`{sized}`",
        "Replicas": "`" + " · ".join(replicas(env, service) for env in ENVS) + "`",
        "Required anti-affinity": " · ".join(required) or "none",
    }


def test_every_service_has_exactly_one_row() -> None:
    assert set(service_rows()) == SERVICES


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_service_row_holds_what_the_overlays_render(service: str) -> None:
    row = service_rows()[service]
    expected = expected_row(service, base_workloads()[service])
    differ = {k: (row[k], v) for k, v in expected.items() if row[k] != v}
    assert not differ, f"{README}: {service}: (table, manifests) differ in {differ}"


def test_every_row_gives_the_seed_and_a_reason() -> None:
    section = README.read_text(encoding="utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    for rows in seed_tables():
        for row in rows:
            name = next(iter(row.values()))
            assert row["Seed"], f"{README}: {name}: empty Seed cell"
            reason = row.get("Why") or row.get("Ours, and why")
            assert reason, f"{README}: {name}: no reason given"
            for note in NOTE.findall(reason):
                assert f"**[{note}]" in section, f"{README}: {name}: note [{note}] is not defined"


def file_rows() -> list[Row]:
    _, resources, environments = seed_tables()
    return resources + environments


@pytest.mark.parametrize("row", file_rows(), ids=lambda r: r.get("Element") or r["Environment"])
def test_every_value_named_in_ours_is_in_a_file_the_row_names(row: Row) -> None:
    files = [MANIFESTS / f for f in code(row["Files"])]
    assert files, f"{README}: row {row}: no file named"
    for f in files:
        assert f.is_file(), f"{README}: {f} named by the seed table does not exist"
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    values = code(row["Ours"])
    assert values, f"{README}: row {row}: no value in backquotes"
    missing = [v for v in values if v not in text]
    assert not missing, f"{README}: {missing} not in {[str(f.relative_to(MANIFESTS.parent)) for f in files]}"

