from __future__ import annotations

import pytest

from aideon_resilience.adapters.localhost import free_port
from aideon_resilience.adapters.locust.target import (
    DEFAULT_HOST,
    TargetRefused,
    check_target,
    parse_think_time,
    unreachable_reason,
)


def test_loopback_targets_pass() -> None:
    assert check_target(None, {}) == DEFAULT_HOST
    assert check_target("http://localhost:9", {}) == "http://localhost:9"
    assert check_target("http://[::1]:9", {}) == "http://[::1]:9"


def test_remote_target_refused_unless_allowed() -> None:
    # nothing is sent: the check only parses the URL
    with pytest.raises(TargetRefused, match=r"refusing non-loopback target '192\.0\.2\.10'"):
        check_target("http://192.0.2.10:8080", {})
    assert check_target("http://192.0.2.10:8080", {"AIDEON_ALLOW_REMOTE_TARGET": "1"}).endswith(":8080")
    with pytest.raises(TargetRefused, match="not an http"):
        check_target("ftp://127.0.0.1", {})


def test_unreachable_reason_names_the_refusal() -> None:
    reason = unreachable_reason(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    assert reason is not None and "refused" in reason.lower()


def test_think_time() -> None:
    assert parse_think_time("", (2.0, 8.0)) == (2.0, 8.0)
    assert parse_think_time("0.5,1", (2.0, 8.0)) == (0.5, 1.0)
    for bad in ("1", "3,1", "a,b", "-1,2"):
        with pytest.raises(ValueError, match="AIDEON_THINK_TIME"):
            parse_think_time(bad, (2.0, 8.0))
