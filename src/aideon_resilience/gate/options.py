"""What a user asks of one gate run (the `gate` command's options)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Progress = Callable[[str], None]


@dataclass
class GateOptions:
    env: str = "local"
    context: str | None = None
    manifests: Path = Path("manifests")
    out: Path = Path("reports")
    baseline: Path | None = None
    chaos_dir: Path = Path("chaos")
    locustfile: Path = Path("loadtests/gateway.py")
    gateway_url: str | None = None
    run_id: str | None = None
    overlay: Path | None = None  # deploy this overlay instead of the environment's (local target only)
    experiments: list[str] | None = None  # run these of the suite only
    # a rehearsal (`rehearse`): the environment's shape on a cluster of its own, modelled load
    rehearsal: bool = False
    users: int | None = None  # rehearsal: modelled users at peak (default: rehearsal.yaml's)
    keep: bool = False  # rehearsal: keep its cluster afterwards
