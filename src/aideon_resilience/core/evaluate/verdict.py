"""SLO results, the weighted score, the overall verdict and its exit code.

Statuses: pass, warn (within the limit but inside the warn margin), fail, inconclusive (the
evidence needed is missing: never a pass).

Score: the weighted mean of pass = 1, warn = 0.5, fail = 0 and inconclusive = 0 over all
SLOs. Inconclusive counts as 0 rather than being left out, so missing evidence can only lower
the score, never raise it. The score summarises; the verdict decides:
fail if any SLO failed; otherwise inconclusive if any SLO is inconclusive (or there are no
SLOs); otherwise pass (warnings allowed).

Exit codes (contract in DESIGN.md): pass 0, fail 1, inconclusive 3.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aideon_resilience.core.files import load_model

VERDICT_FILE = "verdict.json"


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


# how bad a status is; used to combine sub-checks (worst wins) and to spot regressions
SEVERITY: dict[Status, int] = {Status.PASS: 0, Status.WARN: 1, Status.INCONCLUSIVE: 2, Status.FAIL: 3}
CREDIT: dict[Status, float] = {Status.PASS: 1.0, Status.WARN: 0.5, Status.FAIL: 0.0, Status.INCONCLUSIVE: 0.0}
EXIT_CODES: dict[Status, int] = {Status.PASS: 0, Status.FAIL: 1, Status.INCONCLUSIVE: 3}


def worst(statuses: list[Status]) -> Status:
    """Combine sub-checks: fail > inconclusive > warn > pass; nothing checked is inconclusive."""
    if not statuses:
        return Status.INCONCLUSIVE
    return max(statuses, key=lambda s: SEVERITY[s])


def grade_max(value: float, limit: float, warn_ratio: float) -> Status:
    """A figure that must stay at or under `limit`; warn above `warn_ratio * limit`."""
    if value > limit:
        return Status.FAIL
    if value > warn_ratio * limit:
        return Status.WARN
    return Status.PASS


class Figure(BaseModel):
    """A key number behind a status, compared against a baseline run."""

    model_config = ConfigDict(extra="ignore")

    value: float
    limit: float | None = None
    unit: str = ""
    better: Literal["lower", "higher"] = "lower"


class Evidence(BaseModel):
    model_config = ConfigDict(extra="ignore")

    figures: dict[str, Figure] = Field(default_factory=dict)
    items: list[str] = Field(default_factory=list, description="facts with relative times")


class SloResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    family: str
    status: Status
    weight: float
    message: str
    description: str = ""
    evidence: Evidence = Field(default_factory=Evidence)


class Regression(BaseModel):
    slo_id: str
    kind: Literal["status", "figure", "missing"]
    message: str
    figure: str | None = None
    baseline: float | str | None = None
    current: float | str | None = None


class Verdict(BaseModel):
    model_config = ConfigDict(extra="ignore")

    verdict: Status
    exit_code: int
    score: float
    run_id: str = ""
    environment: str = ""
    slos: list[SloResult] = Field(default_factory=list)
    regressions: list[Regression] = Field(default_factory=list)
    baseline_run_id: str | None = None
    kind: str = "gate"  # gate or rehearsal
    notes: list[str] = Field(default_factory=list, description="what the verdict does not cover, e.g. modelled load")

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for r in self.slos:
            out[r.status.value] += 1
        return out


def exit_code(verdict: Status) -> int:
    """Process exit code of a verdict: pass 0, fail 1, inconclusive 3 (warn is not a verdict)."""
    if verdict is Status.WARN:
        return EXIT_CODES[Status.PASS]
    return EXIT_CODES[verdict]


def score(results: list[SloResult]) -> float:
    """Weighted mean of pass 1, warn 0.5, fail 0, inconclusive 0; 0.0 when there is nothing."""
    total = sum(r.weight for r in results)
    if total <= 0:
        return 0.0
    return round(sum(r.weight * CREDIT[r.status] for r in results) / total, 4)


def overall(results: list[SloResult]) -> Status:
    statuses = {r.status for r in results}
    if Status.FAIL in statuses:
        return Status.FAIL
    if not results or Status.INCONCLUSIVE in statuses:
        return Status.INCONCLUSIVE
    return Status.PASS


def build_verdict(results: list[SloResult], run_id: str = "", environment: str = "") -> Verdict:
    v = overall(results)
    return Verdict(
        verdict=v,
        exit_code=exit_code(v),
        score=score(results),
        run_id=run_id,
        environment=environment,
        slos=results,
    )


def write_verdict(path: Path, verdict: Verdict) -> None:
    path.write_text(verdict.model_dump_json(indent=2) + "\n", encoding="utf-8")


def read_verdict(path: Path) -> Verdict:
    return load_model(path, Verdict, "a JSON object with a verdict", missing="no verdict file")
