"""Sampling a probe over a window."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def sample(fn: Callable[[], dict[str, Any]], window: float, interval: float) -> list[dict[str, Any]]:
    """Call fn now and every `interval` seconds until `window` seconds have passed."""
    samples = [fn()]
    end = time.time() + max(0.0, float(window))
    step = max(0.1, float(interval))
    while time.time() + step <= end:
        time.sleep(step)
        samples.append(fn())
    return samples
