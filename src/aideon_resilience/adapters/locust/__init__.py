"""Locust integration: the windowed statistics listener and client thresholds.

Importing this package does not register anything; a locustfile calls
`aideon_resilience.adapters.locust.install()` (or imports the modules' `install` functions).
"""

from __future__ import annotations


def install() -> None:
    """Register the windows listener and the thresholds with Locust's events."""
    from aideon_resilience.adapters.locust import thresholds, windows  # Locust and gevent: only inside a Locust process

    windows.install()
    thresholds.install()
