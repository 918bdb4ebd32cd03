"""Prometheus (Debian's `prometheus` package) on loopback, scraping the stand-ins and the proxy.

Targets come from file-based service discovery (`file_sd_configs`): the data plane rewrites
`targets/standins.json` (one target per stand-in process, labelled with its namespace, pod and
service, as Kubernetes service discovery would label them) and `targets/haproxy.json` (HAProxy's
built-in Prometheus exporter) whenever they change; Prometheus picks the files up by itself.
Scrapes every 5 s so SLO queries over short local runs have enough points.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from aideon_resilience.errors import InfrastructureError
from aideon_resilience.settings import settings

LOOPBACK = "127.0.0.1"
SCRAPE_INTERVAL = "5s"


def prometheus_binary() -> str:
    for cand in (settings().text("AIDEON_PROMETHEUS") or "", "/usr/bin/prometheus", "/usr/sbin/prometheus"):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise InfrastructureError(
        "prometheus is not installed (install it: apt-get update && apt-get install -y prometheus)"
    )


def render_config(targets_dir: Path) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "scrape_configs": [
            {
                "job_name": "aideon-standins",
                "file_sd_configs": [{"files": [str(targets_dir / "standins.json")], "refresh_interval": "5s"}],
            },
            {
                "job_name": "haproxy",
                "file_sd_configs": [{"files": [str(targets_dir / "haproxy.json")], "refresh_interval": "5s"}],
            },
        ],
    }


def standin_targets(instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """file_sd entries for stand-in processes (dicts as from `PodRuntime.snapshot()`)."""
    out = []
    for inst in sorted(instances, key=lambda i: (i["namespace"], i["pod"])):
        if not inst.get("port") or inst.get("terminating"):
            continue
        out.append(
            {
                "targets": [f"{LOOPBACK}:{inst['port']}"],
                "labels": {
                    "namespace": inst["namespace"],
                    "pod": inst["pod"],
                    "service": inst["service"],
                    "app_kubernetes_io_name": inst["service"],
                },
            }
        )
    return out


def write_targets(path: Path, entries: list[dict[str, Any]]) -> bool:
    """Atomically replace a file_sd file; False when the content was already the same."""
    text = json.dumps(entries, indent=1, sort_keys=True)
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8") == text:
            return False
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return True


class Prometheus:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.targets = workdir / "targets"
        self.config_path = workdir / "prometheus.yml"
        self.log_path = workdir / "prometheus.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self, port: int, proxy_stats_port: int) -> None:
        self.port = port
        self.targets.mkdir(parents=True, exist_ok=True)
        write_targets(self.targets / "standins.json", [])
        write_targets(
            self.targets / "haproxy.json",
            [{"targets": [f"{LOOPBACK}:{proxy_stats_port}"], "labels": {"component": "haproxy"}}],
        )
        self.config_path.write_text(yaml.safe_dump(render_config(self.targets), sort_keys=False), encoding="utf-8")
        cmd = [
            prometheus_binary(),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            "--storage.tsdb.retention.time=2d",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--log.level=warn",
        ]
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise InfrastructureError(f"prometheus exited at start (see {self.log_path})")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                if resp.status == 200:
                    return
            time.sleep(0.2)
        raise InfrastructureError(f"prometheus did not become ready on {self.url} (see {self.log_path})")

    def set_standins(self, instances: list[dict[str, Any]]) -> bool:
        return write_targets(self.targets / "standins.json", standin_targets(instances))

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
