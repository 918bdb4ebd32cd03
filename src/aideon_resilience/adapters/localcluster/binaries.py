"""The binaries the local cluster runs, built from Go modules by `build.sh` into the cache."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aideon_resilience.adapters.localcluster.paths import PACKAGE_DIR, ClusterPaths
from aideon_resilience.errors import BuildError
from aideon_resilience.settings import settings

BUILD_SCRIPT = PACKAGE_DIR / "build.sh"
VERSIONS_FILE = PACKAGE_DIR / "versions.env"

#: binary name -> key in versions.env
BINARIES: dict[str, str] = {
    "kube-apiserver": "KUBERNETES_VERSION",
    "kube-controller-manager": "KUBERNETES_VERSION",
    "kube-scheduler": "KUBERNETES_VERSION",
    "kubectl": "KUBERNETES_VERSION",
    "etcd": "ETCD_VERSION",
    "kwok": "KWOK_VERSION",
    "kwokctl": "KWOK_VERSION",
    "metrics-server": "METRICS_SERVER_VERSION",
}


def pinned_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            versions[key.strip()] = value.strip()
    return versions


@dataclass(frozen=True)
class BinaryState:
    name: str
    path: Path
    expected: str
    ok: bool
    problem: str = ""


def kwok_stages_dir(paths: ClusterPaths) -> Path:
    """Where build.sh leaves KWOK's default stages of the pinned version (kwokconfig.py reads them)."""
    return paths.cache / "kwok-stages" / pinned_versions()["KWOK_VERSION"]


def _stages_state(paths: ClusterPaths) -> BinaryState:
    where = kwok_stages_dir(paths)
    ok = (where / ".complete").is_file()
    return BinaryState("kwok-stages", where, pinned_versions()["KWOK_VERSION"], ok, "" if ok else "missing")


def check_binaries(paths: ClusterPaths) -> list[BinaryState]:
    """Whether each cached binary is present, runs, and carries the pinned version stamp."""
    versions = pinned_versions()
    states: list[BinaryState] = []
    for name, key in BINARIES.items():
        path = paths.bin / name
        expected = versions[key]
        stamp = paths.bin / f".{name}.version"
        if not path.is_file():
            states.append(BinaryState(name, path, expected, False, "missing"))
            continue
        if not stamp.is_file() or stamp.read_text(encoding="utf-8").strip() != expected:
            states.append(BinaryState(name, path, expected, False, f"not built at {expected}"))
            continue
        try:
            probe = ["version", "--client"] if name == "kubectl" else ["--version"]
            proc = subprocess.run([str(path), *probe], capture_output=True, timeout=30, check=False)
            runs = proc.returncode == 0
        except OSError:
            runs = False
        states.append(BinaryState(name, path, expected, runs, "" if runs else "does not run (corrupt cache?)"))
    states.append(_stages_state(paths))
    return states


def ensure_binaries(paths: ClusterPaths, on_line: Callable[[str], None] | None = None) -> None:
    """Build whatever is missing or stale; a failure becomes one clear line (BuildError)."""
    if all(s.ok for s in check_binaries(paths)):
        return
    if shutil.which("go") is None:
        raise BuildError(
            "the Go toolchain is missing: install Go 1.26 or newer to build the local cluster's binaries"
        )
    env = settings().child_environment({"AIDEON_CACHE_DIR": str(paths.cache)})
    proc = subprocess.Popen(
        ["bash", str(BUILD_SCRIPT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    last_error = ""
    for raw in proc.stdout:
        line = raw.rstrip()
        if line.startswith("build-k8s:"):
            last_error = line.removeprefix("build-k8s:").strip()
        if on_line is not None:
            on_line(line)
    if proc.wait() != 0:
        raise BuildError(f"building the local cluster's binaries failed: {last_error or 'see the output above'}")
    broken = [s for s in check_binaries(paths) if not s.ok]
    if broken:
        raise BuildError(f"after the build, {broken[0].name} is still unusable: {broken[0].problem}")
