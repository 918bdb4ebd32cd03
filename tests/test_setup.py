"""The set-up of a fresh machine: the lock file and the prerequisites step of `make gate` / `make test`.

The lock must pin every dependency pyproject.toml names (runtime, the `dev` extra, the build
backend) at a version its specifier allows, with hashes, and `.venv` must be installed from it:
a dependency added or changed without `make lock` fails here.

scripts/install-prerequisites.sh runs against a PATH of fake commands (python3.11, go, make, id,
dpkg-query, apt-get, sudo, systemctl, service) whose behaviour each case sets, so every path (all
present, installing, refusing) is exercised without touching the machine's packages.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

LOCK = REPO / "requirements.lock"
SCRIPT = REPO / "scripts" / "install-prerequisites.sh"
# The lock is resolved for this environment (uv pip compile --python-version 3.11
# --python-platform x86_64-unknown-linux-gnu).
TARGET_ENV = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
              "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
              "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def declared_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    names = [*project["project"]["dependencies"], *project["project"]["optional-dependencies"]["dev"],
             *project["build-system"]["requires"]]
    return [Requirement(r) for r in names]


def locked() -> dict[str, tuple[str, list[str]]]:
    """Name -> (version, hashes) of every pin in the lock."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line):
            current = canonicalize_name(m.group(1))
            pins[current] = (m.group(2), [])
        elif m := re.match(r"^\s+--hash=(sha256:[0-9a-f]{64})", line):
            pins[current][1].append(m.group(1))
    return pins


def test_lock_pins_every_declared_dependency_at_an_allowed_version() -> None:
    pins = locked()
    stale = []
    for req in declared_requirements():
        if req.marker is not None and not req.marker.evaluate(TARGET_ENV):
            continue
        name = canonicalize_name(req.name)
        if name not in pins:
            stale.append(f"{req} is not in the lock")
        elif not req.specifier.contains(pins[name][0], prereleases=True):
            stale.append(f"{req} but the lock pins {pins[name][0]}")
    assert not stale, "requirements.lock is stale (run `make lock`): " + "; ".join(stale)


def test_lock_is_fully_pinned_with_hashes_and_says_how_to_refresh() -> None:
    pins = locked()
    assert len(pins) > 50
    assert [n for n, (_, hashes) in pins.items() if not hashes] == []
    requirement_lines = [ln for ln in LOCK.read_text(encoding="utf-8").splitlines()
                         if ln.strip() and not ln.lstrip().startswith(("#", "--hash"))]
    assert all("==" in ln for ln in requirement_lines), "every requirement in the lock is an exact pin"
    head = LOCK.read_text(encoding="utf-8").splitlines()[:6]
    assert any("make lock" in ln for ln in head), "the lock's header says how to refresh it"
    assert pins["kubernetes"][0].startswith("37."), "kubernetes 36.x breaks chaosk8s token auth"


def makefile_rule(target: str) -> tuple[str, list[str]]:
    """The prerequisites and recipe lines of one rule of the Makefile."""
    lines = (REPO / "Makefile").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"{target}:"):
            recipe = []
            for body in lines[i + 1:]:
                if not body.startswith("\t"):
                    break
                recipe.append(body.strip())
            return line.split(":", 1)[1], recipe
    raise AssertionError(f"no rule for {target} in the Makefile")


def test_makefile_installs_the_venv_from_the_lock() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^LOCK := requirements\.lock$", makefile, re.M)
    deps, recipe = makefile_rule("$(BIN)/aideon-resilience")
    assert {"pyproject.toml", "$(LOCK)"} <= set(deps.split()), "the venv is rebuilt when either changes"
    assert any("--require-hashes -r $(LOCK)" in ln for ln in recipe)
    editable = [ln for ln in recipe if "-e ." in ln]
    assert editable and all("--no-deps" in ln for ln in editable), "nothing is resolved beyond the lock"
    assert not any(re.search(r"pip install .*(--upgrade|-U)\b", ln) for ln in recipe)


@pytest.mark.parametrize("goal", ["gate", "test", "test-cluster", "cluster-up", "bench"])
def test_prerequisites_run_before_the_venv_and_the_build(goal: str, tmp_path: Path) -> None:
    # make -n prints the commands in order without running any; a fresh VENV shows its creation too.
    out = subprocess.run(["make", "-n", "-C", str(REPO), goal, f"VENV={tmp_path / 'venv'}",
                          f"AIDEON_CACHE_DIR={tmp_path / 'cache'}"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    first = [i for i, ln in enumerate(out) if "install-prerequisites.sh" in ln]
    assert first, out
    later = [i for i, ln in enumerate(out) if "build-k8s.sh" in ln or "-m venv" in ln]
    assert later and first[0] < min(later), out


def test_ci_runs_the_readme_test_command() -> None:
    run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^(exec )?make test$", run, re.M)
    assert "apt-get" not in run, "CI installs through make test, like a developer"


def test_readme_documents_the_lock_and_the_script_environment() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make lock" in readme and "requirements.lock" in readme
    script = SCRIPT.read_text(encoding="utf-8")
    for var in sorted(set(re.findall(r"\$\{?(AIDEON_[A-Z_]+|PYTHON)\b", script))):
        assert var in readme, f"README does not document {var}, which {SCRIPT.name} reads"


# --- scripts/install-prerequisites.sh against fake commands ----------------------------------

FAKES = {
    # python3.11 -c ...: prints the version the case asks for (the venv check discards it).
    "python3.11": 'echo "${FAKE_PYTHON_VERSION:-3.11.7}"',
    "go": '[ "$1 $2" = "env GOVERSION" ] && echo "${FAKE_GO_VERSION:-go1.26.8}"',
    "make": "exit 0",
    "id": 'echo "${FAKE_UID:-0}"',
    # A package is installed when its marker file exists (fake apt-get creates them).
    "dpkg-query": 'pkg=${!#}; if [ -e "$FAKE_STATE/$pkg" ]; then printf "install ok installed"; '
                  'else echo "dpkg-query: no packages found matching $pkg" >&2; exit 1; fi',
    "apt-get": 'echo "apt-get $*" >> "$FAKE_STATE/log"; [ "$1" = install ] && [ -z "$FAKE_APT_BROKEN" ] && '
               'for a in "$@"; do case $a in -*|install) ;; *) : > "$FAKE_STATE/$a" ;; esac; done; exit 0',
    "sudo": 'echo "sudo $*" >> "$FAKE_STATE/log"; [ "$1" = -n ] && shift; "$@"',
    "systemctl": 'echo "stop-service $2" >> "$FAKE_STATE/log"',
    "service": 'echo "stop-service $1" >> "$FAKE_STATE/log"',
}


@dataclass
class Machine:
    bin: Path
    state: Path

    def install(self, *packages: str) -> None:
        for pkg in packages:
            (self.state / pkg).touch()

    def remove_command(self, name: str) -> None:
        (self.bin / name).unlink()

    def log(self) -> list[str]:
        log = self.state / "log"
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []

    def run(self, **env: str) -> subprocess.CompletedProcess[str]:
        bash = shutil.which("bash")
        assert bash is not None
        return subprocess.run(
            [bash, str(SCRIPT)],
            env={"PATH": str(self.bin), "HOME": str(self.state), "FAKE_STATE": str(self.state), **env},
            capture_output=True, text=True, timeout=30, check=False,
        )


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, body in FAKES.items():
        path = bin_dir / name
        path.write_text(f"#!{shutil.which('bash')}\n{body}\n", encoding="utf-8")
        path.chmod(0o755)
    m = Machine(bin_dir, state)
    m.install("haproxy", "prometheus", "chromium", "shellcheck")
    return m


def refusal(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("install-prerequisites: ")
    return lines[0]


def test_all_present_installs_nothing(machine: Machine) -> None:
    proc = machine.run()
    assert proc.returncode == 0, proc
    assert proc.stdout.splitlines() == ["prerequisites: Python 3.11.7, Go 1.26.8, make, "
                                        "haproxy prometheus chromium shellcheck present"]
    assert machine.log() == []


def test_installs_missing_packages_as_root_with_one_update(machine: Machine) -> None:
    (machine.state / "haproxy").unlink()
    (machine.state / "chromium").unlink()
    proc = machine.run()
    assert proc.returncode == 0, proc
    log = machine.log()
    assert [ln for ln in log if ln.startswith("apt-get")] == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends haproxy chromium",
    ]
    assert {"stop-service prometheus", "stop-service prometheus-node-exporter", "stop-service haproxy"} <= set(log)
    assert (machine.state / "haproxy").exists()


def test_installs_through_passwordless_sudo(machine: Machine) -> None:
    (machine.state / "prometheus").unlink()
    proc = machine.run(FAKE_UID="1000")
    assert proc.returncode == 0, proc
    assert "sudo -n apt-get install -y -qq --no-install-recommends prometheus" in machine.log()


def test_refuses_without_root_or_sudo(machine: Machine) -> None:
    (machine.state / "haproxy").unlink()
    machine.remove_command("sudo")
    line = refusal(machine.run(FAKE_UID="1000"))
    assert "missing Debian packages: haproxy;" in line and "not root and no passwordless sudo" in line
    assert "apt-get install -y --no-install-recommends haproxy" in line
    assert machine.log() == []


def test_refuses_without_apt_get(machine: Machine) -> None:
    machine.remove_command("apt-get")
    line = refusal(machine.run(AIDEON_PREREQ_PACKAGES="haproxy aideon-absent-package"))
    assert "missing Debian packages: aideon-absent-package; apt-get is missing" in line


def test_refuses_when_apt_get_does_not_install(machine: Machine) -> None:
    (machine.state / "chromium").unlink()
    line = refusal(machine.run(FAKE_APT_BROKEN="1"))
    assert "apt-get did not install chromium" in line


@pytest.mark.parametrize(
    ("env", "removed", "expected"),
    [
        ({"FAKE_GO_VERSION": "go1.25.7"}, None, "Go 1.25.7 is too old: install Go 1.26 or newer"),
        ({}, "go", "the Go toolchain is missing"),
        ({"FAKE_PYTHON_VERSION": "3.12.1"}, None, "python3.11 is Python 3.12.1"),
        ({}, "python3.11", "python3.11 is missing"),
        ({}, "make", "make is missing"),
        ({}, "dpkg-query", "dpkg-query is missing"),
    ],
)
def test_refuses_an_unusable_toolchain(machine: Machine, env: dict[str, str], removed: str | None,
                                       expected: str) -> None:
    if removed:
        machine.remove_command(removed)
    assert expected in refusal(machine.run(**env))
    assert machine.log() == []


def test_newer_go_and_no_packages_pass(machine: Machine) -> None:
    machine.remove_command("dpkg-query")
    proc = machine.run(FAKE_GO_VERSION="go1.27.1", AIDEON_PREREQ_PACKAGES="")
    assert proc.returncode == 0, proc
    assert proc.stdout.strip() == "prerequisites: Python 3.11.7, Go 1.27.1, make present"
