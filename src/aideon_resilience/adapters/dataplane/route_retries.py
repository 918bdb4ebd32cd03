"""A VirtualService route's `retries` as Istio programs them into Envoy, and the HAProxy settings
that follow them.

Istio (`pilot/pkg/networking/core/route/retry`, `ConvertPolicy`): a route without `retries` gets
Istio's default policy, 2 retries on `connect-failure,refused-stream,unavailable,cancelled,
retriable-status-codes` with the retriable status 503; `attempts: 0` turns retries off; otherwise
the default with `attempts` as Envoy's `num_retries` (retries after the first try), `retryOn`
replacing the conditions (any integer in it is a retriable status code) and `perTryTimeout` the
per-try timeout. Every policy carries Envoy's `previous_hosts` retry predicate (a retry prefers a
host not tried yet).

What each Envoy `retry_on` condition retries (Envoy's router `RetryStateImpl`), and the HAProxy
`retry-on` keywords that do the same over HTTP/1.1:
- `5xx`: any 5xx, and an upstream that does not answer (connect failure, reset, per-try timeout);
- `gateway-error`: 502, 503, 504, and the same failures to answer;
- `reset`: the failures to answer only; `connect-failure`: connect failures only;
- `retriable-status-codes`: the policy's status codes (HAProxy can retry 500-504, 401, 403, 404,
  408 and 425);
- `refused-stream`, `unavailable`, `cancelled`, `resource-exhausted`, `deadline-exceeded`,
  `internal`: HTTP/2 streams and gRPC statuses, which a plain HTTP/1.1 request never meets;
- anything else (`retriable-4xx`, `retriable-headers`, `envoy-ratelimited`, ...) HAProxy cannot
  model: it is named in `unsupported` and the proxy logs a warning.
HAProxy's `option redispatch 1` sends every retry to another server when there is one, avoiding
the last server tried (Envoy avoids every host tried, up to 5 selections).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aideon_resilience.adapters.dataplane.proxy_config import BackendRetries, parse_duration, rule_name
from aideon_resilience.adapters.dataplane.traffic_split import default_route_index

_NO_ANSWER = ("conn-failure", "empty-response", "junk-response", "response-timeout")
_HAPROXY_CODES = frozenset({401, 403, 404, 408, 425, 500, 501, 502, 503, 504})
_CONDITIONS: dict[str, tuple[str, ...]] = {
    "5xx": (*_NO_ANSWER, "500", "501", "502", "503", "504"),
    "gateway-error": (*_NO_ANSWER, "502", "503", "504"),
    "reset": _NO_ANSWER,
    "connect-failure": ("conn-failure",),
    "retriable-status-codes": (),  # the policy's codes, below
}
_NOT_HTTP1 = frozenset({"refused-stream", "unavailable", "cancelled", "resource-exhausted", "deadline-exceeded",
                        "internal"})
ISTIO_DEFAULT_RETRY_ON = ("connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes")


@dataclass(frozen=True)
class RetryPolicy:
    """Envoy's retry policy of a route: `attempts` retries after the first try (0: none)."""

    attempts: int = 2
    retry_on: tuple[str, ...] = ISTIO_DEFAULT_RETRY_ON
    status_codes: tuple[int, ...] = (503,)
    per_try_timeout_s: float | None = None
    source: str = "Istio's default retry policy"

    @classmethod
    def none(cls, source: str) -> RetryPolicy:
        return cls(attempts=0, retry_on=(), status_codes=(), source=source)

    def haproxy_retry_on(self) -> list[str]:
        """HAProxy's `retry-on` keywords for this policy, in a fixed order (`none` when it retries nothing)."""
        if self.attempts <= 0:
            return ["none"]
        found: set[str] = set()
        for condition in self.retry_on:
            found.update(_CONDITIONS.get(condition, ()))
        if "retriable-status-codes" in self.retry_on:
            found.update(str(c) for c in self.status_codes if c in _HAPROXY_CODES)
        order = [*_NO_ANSWER, *sorted(str(c) for c in _HAPROXY_CODES)]
        keywords = [k for k in order if k in found]
        return keywords or ["none"]

    def unsupported(self) -> list[str]:
        """The conditions and status codes of the policy the proxy cannot retry on."""
        out = [c for c in self.retry_on if c not in _CONDITIONS and c not in _NOT_HTTP1]
        if "retriable-status-codes" in self.retry_on:
            out += [str(c) for c in self.status_codes if c not in _HAPROXY_CODES]
        return out

    def backend_retries(self) -> BackendRetries:
        """What HAProxy does for this policy on each backend the route sends to."""
        keywords = self.haproxy_retry_on()
        count = self.attempts if keywords != ["none"] else 0
        return BackendRetries(count, tuple(keywords), self.per_try_timeout_s, self.describe())

    def describe(self) -> str:
        if self.attempts <= 0:
            return f"no retries ({self.source})"
        per_try = f", perTryTimeout {self.per_try_timeout_s:g}s" if self.per_try_timeout_s else ""
        codes = f" ({','.join(map(str, self.status_codes))})" if "retriable-status-codes" in self.retry_on else ""
        return f"{self.attempts} retries on {','.join(self.retry_on)}{codes}{per_try} ({self.source})"


def retries_from_virtual_service(vs: dict[str, Any] | None) -> RetryPolicy:
    """The retry policy of the route plain requests take (the first `http` route without `match`),
    as Istio converts it; Istio's default without a VirtualService or such a route. Raises
    ValueError naming the field for a malformed `retries`."""
    if vs is None:
        return RetryPolicy()
    routes = (vs.get("spec") or {}).get("http") or []
    index = default_route_index(routes)
    if index is None:
        return RetryPolicy()
    name = rule_name(vs)
    retries = routes[index].get("retries")
    if retries is None:
        return RetryPolicy(source=f"VirtualService {name}: Istio's default retry policy")
    where = f"VirtualService {name}: spec.http[{index}].retries"
    if not isinstance(retries, dict):
        raise ValueError(f"{where}: not a mapping: {retries!r}")
    try:
        attempts = int(retries.get("attempts", 0))
    except (TypeError, ValueError):
        raise ValueError(f"{where}.attempts: not an integer: {retries.get('attempts')!r}") from None
    if attempts <= 0:
        return RetryPolicy.none(f"VirtualService {name}: attempts {attempts}")
    base = RetryPolicy()
    retry_on, codes = base.retry_on, base.status_codes
    if retries.get("retryOn"):
        conditions, numbers = [], []
        for part in str(retries["retryOn"]).split(","):
            part = part.strip()
            if part.isdigit() and 100 <= int(part) <= 599:
                numbers.append(int(part))
            elif part:
                conditions.append(part)
        if numbers and "retriable-status-codes" not in conditions:
            conditions.append("retriable-status-codes")
        retry_on, codes = tuple(conditions), tuple(numbers)
    per_try = None
    if retries.get("perTryTimeout") is not None:
        per_try = parse_duration(retries["perTryTimeout"], f"{where}.perTryTimeout")
        if per_try <= 0:
            raise ValueError(f"{where}.perTryTimeout: must be more than 0, got {retries['perTryTimeout']!r}")
    return RetryPolicy(attempts, retry_on, codes, per_try, f"VirtualService {name}")
