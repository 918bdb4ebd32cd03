"""Journeys of Aideon users through the API gateway.

    aideon-resilience standin api-gateway --port 8080 &
    locust -f loadtests/gateway.py --config loadtests/locust.conf --host http://127.0.0.1:8080 \
        --windows-file reports/windows.jsonl --max-error-ratio 0.01 --max-p95-ms 800

Configuration (Locust's own options win over the environment):
  --host / AIDEON_GATEWAY_URL      gateway base URL (loopback only unless AIDEON_ALLOW_REMOTE_TARGET=1)
  AIDEON_LOAD_USER_PREFIX          user names are PREFIX-<n> (default "synthetic-user", what the stand-in accepts)
  AIDEON_LOAD_PASSWORD             their password (default: a fixed synthetic one)
  AIDEON_THINK_TIME="MIN,MAX"      think time between tasks in seconds (default from core.profiles: 5,15)
  AIDEON_SHAPE=ramp|surge|none     pick a load shape from shapes.py (default none: -u/-r/-t apply)
  --windows-file, --window-seconds windowed statistics (JSON Lines), written by the master
  --max-error-ratio, --max-p95-ms, --max-p99-ms   thresholds that set the exit code

Request names are grouped (`name=`) so user IDs and queries do not multiply the statistics; the
task weights and the think time come from `aideon_resilience.core.profiles`, the same figures the
capacity plan uses. A user signs in at start and, like the platform's clients, signs in again
before an authenticated call whenever it has no session: a failed sign-in is counted, the call it
was for is not sent (no client sends it without a token), so an auth outage shows as failed
sign-ins, not as a multiple of them in 401s.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
import time
from typing import Any

from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

from aideon_resilience.adapters import locust as aideon_locust
from aideon_resilience.adapters.locust.target import (
    DEFAULT_HOST,
    TargetRefused,
    check_target,
    parse_think_time,
    unreachable_reason,
)
from aideon_resilience.core.profiles import JOURNEY_WEIGHTS, THINK_TIME_S
from aideon_resilience.settings import settings

TOKEN_LIFETIME_S = 600.0

aideon_locust.install()


def _refuse(message: str, code: int) -> int:
    print(f"gateway.py: {message}", file=sys.stderr, flush=True)
    return code


def _think_time() -> tuple[float, float]:
    try:
        return parse_think_time(settings().text("AIDEON_THINK_TIME") or "", THINK_TIME_S)
    except ValueError as exc:
        raise SystemExit(_refuse(str(exc), 2)) from None


@events.init.add_listener
def _check_target(environment: Any, **_: Any) -> None:
    """Refuse a non-loopback target on every process; a headless master/local run checks it answers."""
    try:
        url = check_target(environment.host or settings().gateway_url)
    except TargetRefused as exc:
        raise SystemExit(_refuse(str(exc), 2)) from None
    opts = environment.parsed_options
    if opts is None or not getattr(opts, "headless", False) or getattr(opts, "worker", False):
        return
    reason = unreachable_reason(url)
    if reason is not None:
        raise SystemExit(
            _refuse(
                f"cannot reach the gateway at {url} ({reason}); start it, e.g. "
                "`aideon-resilience standin api-gateway --port 8080`, or pass --host",
                3,
            )
        )


_user_ids = itertools.count(1)


class GatewayUser(FastHttpUser):
    """One signed-in user of the platform: chats, searches knowledge, checks the plan, sends events."""

    host = settings().gateway_url or DEFAULT_HOST
    wait_time = between(*_think_time())
    connection_timeout = 10.0
    network_timeout = 30.0

    prefix = settings().str_value("AIDEON_LOAD_USER_PREFIX")
    password = settings().str_value("AIDEON_LOAD_PASSWORD")

    def on_start(self) -> None:
        self.user_id = f"{self.prefix}-{next(_user_ids)}"
        self.access_token = ""
        self.refresh_token = ""
        self.token_expires = 0.0
        self.sign_in()

    def _store_tokens(self, data: Any) -> bool:
        if not isinstance(data, dict) or "access_token" not in data:
            return False
        self.access_token = str(data["access_token"])
        self.refresh_token = str(data.get("refresh_token", ""))
        # the session adds it to every request: no per-request header dict (a visible share of client CPU)
        self.client.auth_header = f"Bearer {self.access_token}"
        lifetime = float(data.get("expires_in", TOKEN_LIFETIME_S))
        self.token_expires = time.monotonic() + min(lifetime, TOKEN_LIFETIME_S) * 0.8
        return True

    def _signed_in(self) -> bool:
        """Before a call that needs a session, as the platform's clients do: sign in first when there
        is none (a failed sign-in counts as a failure, and the call is not sent: no client sends it
        without a token, so a short auth outage is not multiplied into 401s), refresh a token near
        its end. False while still signed out."""
        if not self.access_token:
            self.sign_in()
        elif time.monotonic() > self.token_expires:
            self.refresh()
        return bool(self.access_token)

    @task(JOURNEY_WEIGHTS["sign_in"])
    def sign_in(self) -> None:
        with self.client.post(
            "/api/v1/auth/login",
            json={"username": self.user_id, "password": self.password},
            name="/api/v1/auth/login",
            catch_response=True,
        ) as resp:
            if resp.status_code == 200 and self._store_tokens(resp.json()):
                resp.success()
            elif resp.status_code == 200:
                resp.failure("login answered without an access token")

    @task(JOURNEY_WEIGHTS["refresh_token"])
    def refresh(self) -> None:
        if not self.refresh_token:  # signed out: a client signs in, it has nothing to refresh
            self.sign_in()
            return
        with self.client.post(
            "/api/v1/auth/refresh",
            json={"refresh_token": self.refresh_token},
            name="/api/v1/auth/refresh",
            catch_response=True,
        ) as resp:
            if resp.status_code == 200 and self._store_tokens(resp.json()):
                resp.success()
            elif resp.status_code == 200:
                resp.failure("refresh answered without an access token")

    @task(JOURNEY_WEIGHTS["chat"])
    def chat(self) -> None:
        if not self._signed_in():
            return
        self.client.post(
            "/api/v1/chat/completions",
            data=random.choice(_CHAT_BODIES),
            headers=_JSON,
            name="/api/v1/chat/completions",
        )

    @task(JOURNEY_WEIGHTS["knowledge_search"])
    def knowledge_search(self) -> None:
        if not self._signed_in():
            return
        self.client.get(
            f"/api/v1/knowledge/search?q={random.choice(_QUERIES)}&limit=10",
            name="/api/v1/knowledge/search",
        )

    @task(JOURNEY_WEIGHTS["subscription_check"])
    def subscription_check(self) -> None:
        if not self._signed_in():
            return
        self.client.get(
            f"/api/v1/subscriptions/{self.user_id}",
            name="/api/v1/subscriptions/[user]",
        )

    @task(JOURNEY_WEIGHTS["analytics_events"])
    def analytics_events(self) -> None:
        if not self._signed_in():
            return
        now = round(time.time(), 3)
        body = (
            f'{{"events":[{{"type":"page_view","user":"{self.user_id}","ts":{now}}},'
            f'{{"type":"feature_use","feature":"chat","ts":{now}}}]}}'
        )
        self.client.post(
            "/api/v1/analytics/events",
            data=body.encode(),
            headers=_JSON,
            name="/api/v1/analytics/events",
        )

    @task(JOURNEY_WEIGHTS["health"])
    def health(self) -> None:
        self.client.get("/health", name="/health")


_PROMPTS = ("Summarise my last meeting", "Draft a reply to the supplier", "Explain this invoice", "Plan my week")
_QUERIES = ("onboarding", "pricing", "security+policy", "data+retention", "api+limits")
_JSON = {"Content-Type": "application/json"}
_CHAT_BODIES = tuple(
    json.dumps({"model": "default", "messages": [{"role": "user", "content": p}], "max_tokens": 256}).encode()
    for p in _PROMPTS
)


# An explicit shape choice: Locust uses a LoadTestShape found in the locustfile's namespace.
_shape = settings().str_value("AIDEON_SHAPE").lower()
if _shape == "ramp":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from shapes import StagedRamp  # noqa: F401
elif _shape == "surge":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from shapes import Surge  # noqa: F401
elif _shape not in ("", "none"):
    print(f"gateway.py: AIDEON_SHAPE={_shape!r}: expected ramp, surge or none", file=sys.stderr)
    sys.exit(2)
