"""The environments are sized by the capacity plan: production's declared bounds reach 1,000,000 users,
staging's reach its gate's target, the seed's gateway maximum does not, and manifests/README.md quotes
the plan's output rather than its own arithmetic.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from aideon_resilience.cli.main import main
from aideon_resilience.core.config.gate import load_gate_config

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
README = MANIFESTS / "README.md"
QUOTED = re.compile(r"^\$ aideon-resilience plan --users (\d+) --env (\w+)\n(.*?)\n```", re.MULTILINE | re.DOTALL)


def _plan(capsys: pytest.CaptureFixture[str], users: int, env: str, manifests: Path = MANIFESTS,
          fmt: str = "text") -> tuple[int, str]:
    capsys.readouterr()
    code = main(["plan", "--users", str(users), "--env", env, "--manifests", str(manifests), "--format", fmt])
    return code, capsys.readouterr().out


def _target(env: str) -> int:
    return load_gate_config(MANIFESTS / "environments" / env).load.users


def test_production_bounds_reach_one_million(capsys: pytest.CaptureFixture[str]) -> None:
    assert _target("production") == 1_000_000
    code, out = _plan(capsys, 1_000_000, "production", fmt="json")
    data = json.loads(out)
    assert code == 0 and data["reaches"] and data["limits"] == []
    assert data["reachable_users"] == 1_000_000
    assert data["nodes_needed"] <= data["nodes_after_zone_loss"]  # the target survives losing a zone
    assert "stand-in" in data["sources"]["cpu_per_request"]
    vector_db = next(s for s in data["services"] if s["name"] == "vector-db")
    assert vector_db["has_hpa"] and vector_db["replicas_needed"] > 3  # scales past the seed's fixed 3


def test_staging_bounds_reach_its_gate_target(capsys: pytest.CaptureFixture[str]) -> None:
    users = _target("staging")
    code, out = _plan(capsys, users, "staging")
    assert code == 0, out
    assert f"can reach {users:,} users (by the stand-in profiles)" in out


def test_production_with_the_seed_gateway_maximum_fails_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, copy)
    kustomization = copy / "environments" / "production" / "kustomization.yaml"
    data = yaml.safe_load(kustomization.read_text(encoding="utf-8"))
    data["patches"].append({
        "target": {"kind": "HorizontalPodAutoscaler", "name": "api-gateway"},
        "patch": "- op: replace\n  path: /spec/maxReplicas\n  value: 10\n",
    })
    kustomization.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code, out = _plan(capsys, 1_000_000, "production", manifests=copy)
    assert code == 1
    assert "The declared bounds cannot reach 1,000,000 users" in out
    limits = out.split("they serve at most", 1)[1].splitlines()[1:]
    assert len(limits) == 1 and re.fullmatch(
        r"  api-gateway: needs \d+ replicas, HPA maxReplicas is 10 → caps at [\d,]+ users", limits[0]
    ), limits
    assert f"`{limits[0].strip()}`" in README.read_text(encoding="utf-8")  # what the README says the seed allows


def test_readme_quotes_the_plans_current_output(capsys: pytest.CaptureFixture[str]) -> None:
    quoted = QUOTED.findall(README.read_text(encoding="utf-8"))
    assert {(int(users), env) for users, env, _ in quoted} == {
        (_target("production"), "production"), (_target("staging"), "staging")
    }
    for users, env, text in quoted:
        code, out = _plan(capsys, int(users), env)
        assert code == 0
        assert text == out.rstrip("\n"), (
            f"manifests/README.md quotes an outdated plan: paste the output of "
            f"`aideon-resilience plan --users {users} --env {env}`"
        )
