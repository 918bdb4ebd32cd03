"""Every GitHub Actions workflow passes actionlint (built from its Go module by `make dev-tools`,
running shellcheck on the `run:` scripts), and the deploy workflow builds, pushes and deploys what
the repository holds: every Dockerfile, every deployable environment, production only after the
resilience gate."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from aideon_resilience.settings import settings
from tests.conftest import REPO

WORKFLOWS_DIR = REPO / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOWS_DIR.glob("*.y*ml"))
ENVIRONMENTS = REPO / "manifests" / "environments"
COMMIT_TAG = ":${{ github.sha }}"
NOT_A_PULL_REQUEST = "${{ github.event_name != 'pull_request' }}"


def _actionlint() -> Path:
    path = settings().cache_dir / "bin" / "actionlint"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make dev-tools` (scripts/build-dev-tools.sh)")
    return path


def _shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found is None:
        pytest.fail("shellcheck is not on PATH: run `make prerequisites` (Debian package shellcheck)")
    return found


def project(root: Path, workflows: Path | None = WORKFLOWS_DIR) -> Path:
    """A project for actionlint at `root` (a copy of `workflows`): actionlint finds a project by its
    `.git`, and only inside one does it check calls of local reusable workflows."""
    (root / ".git").mkdir(parents=True)
    target = root / ".github" / "workflows"
    if workflows is None:
        target.mkdir(parents=True)
    else:
        shutil.copytree(workflows, target)
    return target


def lint(root: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    """actionlint on `files` inside the project `root`, shellcheck on, one finding per line."""
    return subprocess.run(
        [str(_actionlint()), "-oneline", "-shellcheck", _shellcheck(), "-pyflakes", "",
         *(str(f.relative_to(root)) for f in files)],
        cwd=root, capture_output=True, text=True, timeout=60, check=False,
    )


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as true
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def scripts(job: dict[str, Any]) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def deploy() -> dict[str, Any]:
    return load(WORKFLOWS_DIR / "deploy.yaml")


def deployable_environments() -> set[str]:
    """Environments with an Argo CD Application: all but `local`, which `cluster up` deploys."""
    return {d.name for d in ENVIRONMENTS.iterdir()
            if d.is_dir() and d.name != "local" and "../../platform/gitops" in (d / "kustomization.yaml").read_text()}


def test_the_workflows_are_found() -> None:
    assert {"deploy.yaml", "resilience-gate.yml"} <= {p.name for p in WORKFLOWS}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_accepts_the_workflow(workflow: Path, tmp_path: Path) -> None:
    proc = lint(tmp_path, project(tmp_path) / workflow.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_reports_a_missing_job_and_a_script_error(tmp_path: Path) -> None:
    broken = project(tmp_path, None) / "broken.yaml"
    broken.write_text("name: broken\non: push\njobs:\n  deploy:\n    needs: [build]\n    runs-on: ubuntu-latest\n"
                      "    steps:\n      - run: echo $UNQUOTED_PATH\n", encoding="utf-8")
    proc = lint(tmp_path, broken)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'job "deploy" needs job "build" which does not exist' in proc.stdout
    assert "SC2086" in proc.stdout


def test_actionlint_checks_the_call_of_the_gate_against_its_declared_secrets(tmp_path: Path) -> None:
    """The release pipeline passes LOAD_PASSWORD to the gate; a gate that stops declaring it is caught."""
    workflows = project(tmp_path)
    gate = workflows / "resilience-gate.yml"
    text = gate.read_text(encoding="utf-8")
    declared = "      LOAD_PASSWORD:\n        required: true\n"
    assert declared in text
    gate.write_text(text.replace(declared, ""), encoding="utf-8")
    proc = lint(tmp_path, workflows / "deploy.yaml")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "LOAD_PASSWORD" in proc.stdout


def test_every_dockerfile_is_built_with_buildx_and_tagged_by_the_commit() -> None:
    dockerfiles = subprocess.run(["git", "ls-files", ":(glob)**/Dockerfile*"], cwd=REPO, capture_output=True,
                                 text=True, check=True).stdout.split()
    assert dockerfiles, "no Dockerfile in the repository"
    job = deploy()["jobs"]["images"]
    matrix = job["strategy"]["matrix"]["include"]
    assert sorted(entry["file"] for entry in matrix) == sorted(dockerfiles)
    for entry in matrix:
        assert (REPO / entry["context"]).is_dir(), entry
    uses = [s.get("uses", "") for s in steps(job)]
    buildx = next(i for i, u in enumerate(uses) if u.startswith("docker/setup-buildx-action@"))
    build = next(i for i, u in enumerate(uses) if u.startswith("docker/build-push-action@"))
    assert buildx < build
    with_ = steps(job)[build]["with"]
    assert with_["tags"].endswith(COMMIT_TAG)
    assert with_["push"] == NOT_A_PULL_REQUEST
    login = next(s for s in steps(job) if s.get("uses", "").startswith("docker/login-action@"))
    assert login["if"] == NOT_A_PULL_REQUEST.removeprefix("${{ ").removesuffix(" }}")


def test_the_workflow_runs_on_push_to_main_release_tags_and_pull_requests() -> None:
    on = deploy()["on"]
    assert on["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert "pull_request" in on


def test_every_deployable_environment_is_rendered_linted_and_deployed() -> None:
    envs = deployable_environments()
    assert envs == {"development", "staging", "production"}
    jobs = deploy()["jobs"]
    assert set(jobs["manifests"]["strategy"]["matrix"]["environment"]) == envs
    assert "aideon-resilience lint" in scripts(jobs["manifests"])
    application = yaml.safe_load((REPO / "manifests/platform/gitops/application.yaml").read_text())["metadata"]["name"]
    for env in envs:
        job = jobs[f"deploy-{env}"]
        assert job["environment"] == env
        assert "github.event_name == 'push'" in job["if"], f"deploy-{env} may run for a pull request"
        run = scripts(job)
        paths = set(re.findall(r"manifests/environments/[a-z-]+", run))
        assert paths == {f"manifests/environments/{env}"}, (env, paths)
        assert (REPO / f"manifests/environments/{env}").is_dir()
        if env == "development":
            assert f"kubectl apply --server-side --force-conflicts -k manifests/environments/{env}" in run
            assert "kubectl rollout status" in run
        else:
            assert f'argocd app set {application} --grpc-web --revision "$GITHUB_SHA"' in run
            assert f"argocd app sync {application}" in run
            assert f"argocd app wait {application} --grpc-web --health --sync" in run


def test_production_deploys_only_a_release_tag_after_the_gate_passed_on_staging() -> None:
    jobs = deploy()["jobs"]
    assert jobs["gate"]["uses"] == "./.github/workflows/resilience-gate.yml"
    assert jobs["gate"]["needs"] == ["deploy-staging"]
    assert "gate" in jobs["deploy-production"]["needs"]
    for name in ("gate", "deploy-production"):
        assert "startsWith(github.ref, 'refs/tags/v')" in jobs[name]["if"], name
    gate = load(WORKFLOWS_DIR / "resilience-gate.yml")
    assert "workflow_call" in gate["on"]
    assert "--env staging" in scripts(gate["jobs"]["gate"])


def test_every_action_is_pinned_to_a_release() -> None:
    for workflow in WORKFLOWS:
        for name, job in load(workflow)["jobs"].items():
            used = [job["uses"]] if "uses" in job else [s["uses"] for s in steps(job) if "uses" in s]
            for uses in used:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+)*|\./\.github/workflows/[\w.-]+", uses), \
                    f"{workflow.name} job {name}: {uses}"
