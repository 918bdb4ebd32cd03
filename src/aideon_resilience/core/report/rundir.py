"""Layout of a run directory (`reports/<run-id>/`) and how to load its raw data.

Raw data (written by the gate; what every report is computed from):

- `run.json`            run metadata (`RunMeta`); required: without it the directory is not a run.
- `slo.yaml`            the SLO file the run was judged by (copied from the environment).
- `locust-windows.jsonl` client windows (`core.loadstats.WindowStat`), one per endpoint per window.
- `locust-windows.<purpose>.jsonl` windows of a second Locust run started by a chaos action (the
  load surge); added into the run's windows (`add_extra_load`), so charts and client SLOs count
  the whole load.
- `timeline.jsonl`      the evidence timeline (`core.timeline`).
- `journals/<experiment>.json` Chaos Toolkit journals (kept for people; the gate turns them
  into timeline `chaos`/`experiment` events, the reports do not parse them).

Reports (re-rendered by `aideon-resilience report RUN_DIR`): `index.html`, `report.md`,
`verdict.json`, `junit.xml`.

Missing versus malformed: a missing or malformed `run.json` or `slo.yaml`, or a malformed line
in a data file, is unusable input (InputFileError, exit 2). A data file that is missing (or
empty) is missing evidence: the SLO families needing it are inconclusive (exit 3 at worst).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from aideon_resilience.core.evaluate import RunData
from aideon_resilience.core.evaluate.slo import SLO_FILE, RunKind, SloFile, load_slos
from aideon_resilience.core.evidence.loadstats import WindowStat, add_extra_load, read_windows
from aideon_resilience.core.evidence.timeline import Timeline, load_timeline
from aideon_resilience.core.files import load_model
from aideon_resilience.errors import InputFileError

RUN_FILE = "run.json"
WINDOWS_FILE = "locust-windows.jsonl"
UNDO_DIR = "undo"  # undo steps: the chaos runs' (undo/<run id>/) and the gate's own processes' (undo/gate/)
EXTRA_WINDOWS_GLOB = "locust-windows.*.jsonl"  # a second Locust run's windows (chaos actions' surges)
TIMELINE_FILE = "timeline.jsonl"
JOURNALS_DIR = "journals"
HTML_FILE = "index.html"
MARKDOWN_FILE = "report.md"
VERDICT_FILE = "verdict.json"
JUNIT_FILE = "junit.xml"
REPORT_FILES = (HTML_FILE, MARKDOWN_FILE, VERDICT_FILE, JUNIT_FILE)


class RunMeta(BaseModel):
    """`run.json`: what was run, where and when. Extra fields are kept."""

    model_config = ConfigDict(extra="allow")

    run_id: str = Field(min_length=1)
    env: str
    context: str | None = None
    started: float = Field(description="Unix seconds")
    ended: float | None = None
    git_revision: str | None = None
    tool_version: str | None = None
    target_users: int | None = Field(default=None, ge=0)
    load_workers: int | None = Field(default=None, ge=0, description="Locust workers the run started (0: one process)")
    max_worker_loss: float | None = Field(default=None, ge=0, le=1, description="share of workers it may lose")
    # a gate (real traffic against a target) or a rehearsal at an environment's shape, whose
    # load is modelled: no request was sent, the users are the model's, and reports say so
    kind: RunKind = "gate"
    load_modelled: bool = False
    harness_cpu_s: float | None = Field(default=None, ge=0, description="CPU the harness process used")
    load_lost_at: float | None = Field(default=None, description="when the gate saw its load end before the suite")


@dataclass
class Run:
    """Everything loaded from a run directory."""

    path: Path
    meta: RunMeta
    slos: SloFile
    windows: list[WindowStat] | None
    timeline: Timeline | None

    def data(self) -> RunData:
        return RunData(
            windows=self.windows, timeline=self.timeline, t0=self.meta.started, t_end=self.meta.ended,
            load_workers=self.meta.load_workers, max_worker_loss=self.meta.max_worker_loss,
            load_lost_at=self.meta.load_lost_at,
        )

    def journals(self) -> list[Path]:
        d = self.path / JOURNALS_DIR
        return sorted(d.glob("*.json")) if d.is_dir() else []


def load_meta(run_dir: Path) -> RunMeta:
    file = run_dir / RUN_FILE
    if not run_dir.is_dir():
        raise InputFileError(run_dir, "not a run directory")
    if not file.is_file():
        raise InputFileError(file, "no run metadata: not a run directory")
    return load_model(file, RunMeta, "a JSON object with run_id, env and started")


def gate_undo_dir(run_dir: Path) -> Path:
    """Undo steps of the processes the gate starts itself (its Locust run, each chaos run)."""
    return run_dir / UNDO_DIR / "gate"


def _present(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def load_run(run_dir: Path, slo_path: Path | None = None) -> Run:
    """Load a run's raw data; missing data files become `None` (inconclusive evidence)."""
    meta = load_meta(run_dir)
    slo_file = slo_path if slo_path is not None else run_dir / SLO_FILE
    try:
        slos = load_slos(slo_file).for_run(meta.kind)
    except ValueError as exc:
        raise InputFileError(slo_file if not slo_file.is_dir() else slo_file / SLO_FILE, str(exc),
                             field="slos") from None
    windows_file = run_dir / WINDOWS_FILE
    timeline_file = run_dir / TIMELINE_FILE
    windows = read_windows(windows_file) if _present(windows_file) else None
    if windows is not None:
        for extra in sorted(run_dir.glob(EXTRA_WINDOWS_GLOB)):  # a chaos surge's own Locust run
            if _present(extra):
                windows = add_extra_load(windows, read_windows(extra))
    timeline = load_timeline(timeline_file) if _present(timeline_file) else None
    return Run(path=run_dir, meta=meta, slos=slos, windows=windows, timeline=timeline)


def run_notes(meta: RunMeta) -> list[str]:
    """What every report of the run must say about what it does not cover."""
    notes: list[str] = []
    if meta.load_modelled:
        notes.append("MODELLED LOAD: the users are the rehearsal's model and no request was sent; the plan's "
                      "traffic model became CPU per pod for the real HPAs. No client latency or error was measured.")
    if meta.kind == "rehearsal":
        notes.append("Not rehearsed: outlier detection and client-side SLOs (a rehearsal has no data plane).")
    return notes
