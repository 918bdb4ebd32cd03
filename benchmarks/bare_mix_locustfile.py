"""Second baseline: bare FastHttpUser tasks sending the gateway locustfile's requests (same paths,
methods, bodies and weights) with a fixed token and none of its logic (no sign-in flow, grouped
names, token refresh, response checks or windowed statistics)."""

from __future__ import annotations

import os

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

_lo, _hi = (float(x) for x in os.environ.get("AIDEON_THINK_TIME", "0,0").split(","))
_JSON = {"Content-Type": "application/json", "Authorization": "Bearer bench"}
_AUTH = {"Authorization": "Bearer bench"}
_CHAT = b'{"model":"default","messages":[{"role":"user","content":"Plan my week"}],"max_tokens":256}'
_EVENTS = b'{"events":[{"type":"page_view","user":"u-1","ts":1.0},{"type":"feature_use","feature":"chat","ts":1.0}]}'


class BareMixUser(FastHttpUser):  # type: ignore[misc]
    wait_time = between(_lo, _hi)

    @task(1)  # type: ignore[untyped-decorator]
    def login(self) -> None:
        self.client.post("/api/v1/auth/login", data=b'{"username":"u-1","password":"p"}', headers=_JSON)

    @task(1)  # type: ignore[untyped-decorator]
    def refresh(self) -> None:
        self.client.post("/api/v1/auth/refresh", data=b'{"refresh_token":"r"}', headers=_JSON)

    @task(5)  # type: ignore[untyped-decorator]
    def chat(self) -> None:
        self.client.post("/api/v1/chat/completions", data=_CHAT, headers=_JSON)

    @task(3)  # type: ignore[untyped-decorator]
    def search(self) -> None:
        self.client.get("/api/v1/knowledge/search?q=pricing&limit=10", headers=_AUTH)

    @task(2)  # type: ignore[untyped-decorator]
    def subscription(self) -> None:
        self.client.get("/api/v1/subscriptions/u-1", headers=_AUTH)

    @task(3)  # type: ignore[untyped-decorator]
    def events(self) -> None:
        self.client.post("/api/v1/analytics/events", data=_EVENTS, headers=_JSON)

    @task(1)  # type: ignore[untyped-decorator]
    def health(self) -> None:
        self.client.get("/health")
