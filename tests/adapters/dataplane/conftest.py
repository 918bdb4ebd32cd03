"""Stand-ins without the cluster for the proxy tests: three gateway processes per module, reporting
their attempts to one request log, as a pod's stand-in reports to the data plane's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from aideon_resilience.adapters.dataplane.request_log import RequestLog
from aideon_resilience.adapters.standin.process import running_standin


@pytest.fixture(scope="module")
def attempts() -> Iterator[RequestLog]:
    """The log the stand-ins report their attempts to and HAProxy logs its requests to (one per module)."""
    log = RequestLog()
    yield log
    log.close()


@pytest.fixture(scope="module")
def standins(attempts: RequestLog) -> Iterator[list[int]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(running_standin("api-gateway", "--latency-scale", "0",
                                                   attempt_log_port=attempts.port)).port for _ in range(3)]
