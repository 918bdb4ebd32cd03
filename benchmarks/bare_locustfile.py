"""Baseline of the benchmarks: a bare FastHttpUser hitting one fast route of the same target."""

from __future__ import annotations

import os

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

_lo, _hi = (float(x) for x in os.environ.get("AIDEON_THINK_TIME", "0,0").split(","))


class BareUser(FastHttpUser):  # type: ignore[misc]
    wait_time = between(_lo, _hi)

    @task  # type: ignore[untyped-decorator]
    def health(self) -> None:
        self.client.get("/health")
