"""Client thresholds that decide Locust's exit code: error ratio, p95 and p99 over the whole run.

Evaluated once, when Locust quits, on the master of a distributed run (whose statistics merge all
workers) or on the single process of a local run; never on a worker. When at least one threshold
is set the exit code is 1 if any is exceeded (or no request was made) and 0 otherwise; with none
set, Locust's own exit code stands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aideon_resilience.adapters.locust.plugin import refuse_option, register

log = logging.getLogger("aideon.thresholds")


@dataclass(frozen=True)
class Thresholds:
    max_error_ratio: float | None = None
    max_p95_ms: float | None = None
    max_p99_ms: float | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.max_error_ratio, self.max_p95_ms, self.max_p99_ms))


def parse_thresholds(error_ratio: object, p95: object, p99: object) -> Thresholds:
    """Validated thresholds from raw option values (None or "" = unset); ValueError names the option."""

    def num(option: str, raw: object) -> float | None:
        if raw is None or str(raw).strip() == "":
            return None
        try:
            value = float(str(raw))
        except ValueError:
            raise ValueError(f"{option}: {raw!r} is not a number") from None
        if value != value or value < 0:
            raise ValueError(f"{option}: {raw!r} must be >= 0")
        return value

    ratio = num("--max-error-ratio", error_ratio)
    if ratio is not None and ratio > 1:
        raise ValueError(f"--max-error-ratio: {error_ratio!r} must be between 0 and 1")
    return Thresholds(ratio, num("--max-p95-ms", p95), num("--max-p99-ms", p99))


def violations(
    t: Thresholds, requests: int, failures: int, p95_ms: float | None, p99_ms: float | None
) -> list[str]:
    """Human-readable violations (empty when every set threshold holds)."""
    if not t.any:
        return []
    if requests == 0:
        return ["no request was made"]
    out: list[str] = []
    ratio = failures / requests
    if t.max_error_ratio is not None and ratio > t.max_error_ratio:
        out.append(f"error ratio {ratio:.4f} > {t.max_error_ratio:g} ({failures} of {requests} requests failed)")
    if t.max_p95_ms is not None and p95_ms is not None and p95_ms > t.max_p95_ms:
        out.append(f"p95 {p95_ms:.0f} ms > {t.max_p95_ms:g} ms")
    if t.max_p99_ms is not None and p99_ms is not None and p99_ms > t.max_p99_ms:
        out.append(f"p99 {p99_ms:.0f} ms > {t.max_p99_ms:g} ms")
    return out


def add_options(parser: Any) -> None:
    group = parser.add_argument_group("Aideon client thresholds (exit code 1 when exceeded)")
    group.add_argument("--max-error-ratio", type=str, default="", env_var="AIDEON_MAX_ERROR_RATIO",
                       help="highest acceptable ratio of failed requests over the run (0..1)")
    group.add_argument("--max-p95-ms", type=str, default="", env_var="AIDEON_MAX_P95_MS",
                       help="highest acceptable 95th percentile response time over the run, ms")
    group.add_argument("--max-p99-ms", type=str, default="", env_var="AIDEON_MAX_P99_MS",
                       help="highest acceptable 99th percentile response time over the run, ms")


def evaluate(environment: Any, t: Thresholds) -> list[str]:
    """Check the run's total statistics against `t`, set the exit code and log one line."""
    total = environment.stats.total
    requests = int(total.num_requests)
    failures = int(total.num_failures)
    p95 = total.get_response_time_percentile(0.95) if requests else None
    p99 = total.get_response_time_percentile(0.99) if requests else None
    found = violations(t, requests, failures, p95, p99)
    if found:
        log.error("aideon thresholds: FAILED: %s", "; ".join(found))
        environment.process_exit_code = 1
    elif t.any:
        log.info(
            "aideon thresholds: passed (%d requests, error ratio %.4f, p95 %s ms, p99 %s ms)",
            requests, failures / requests, p95, p99,
        )
        runner = environment.runner
        if runner is None or not runner.exceptions:
            environment.process_exit_code = 0
    return found


def _on_init(environment: Any, opts: Any) -> None:
    try:
        t = parse_thresholds(
            getattr(opts, "max_error_ratio", None), getattr(opts, "max_p95_ms", None),
            getattr(opts, "max_p99_ms", None),
        )
    except ValueError as exc:
        refuse_option(str(exc))
        return
    from locust.runners import WorkerRunner  # Locust and gevent: only inside a Locust process

    if isinstance(environment.runner, WorkerRunner) or not t.any:
        return

    @environment.events.quitting.add_listener
    def _on_quitting(environment: Any, **_: Any) -> None:
        evaluate(environment, t)


def install() -> None:
    """Register the threshold options and their check at quitting (once per process)."""
    register("thresholds", add_options, _on_init)
