"""Envoy's outlier detection for one backend pool, as Istio programs it: pure, the clock injected.

What Istio makes of a DestinationRule's `outlierDetection` (pilot's `applyOutlierDetection`) and
what Envoy then does with it (`source/common/upstream/outlier_detection_impl.cc`,
`LoadBalancerBase::isHostSetInPanic`), followed as of **Envoy v1.31** (the behaviour is the same in
later releases up to the one read, whose API has `always_eject_one_host`):

- Every response of a host is counted (`put_http_response_code`): a 5xx adds one to the host's
  consecutive-5xx count, a 502/503/504 also to its consecutive-gateway-failure count, any other 5xx
  resets the gateway count, and any non-5xx response resets both. Ejection is tried the moment a
  count *reaches* its threshold (`==`, so a count that runs past it does not try again until it is
  reset); the count that triggered is reset afterwards, whether or not the host was ejected. A host
  already ejected is not ejected again (and its count is then not reset).
- Consecutive 5xx is enforced when `consecutive5xxErrors` > 0 (Envoy's default of 5 when the field
  is absent); consecutive gateway failures only when `consecutiveGatewayErrors` > 0 (Envoy's
  `enforcing_consecutive_gateway_failure` defaults to 0). Istio turns success-rate detection off.
- `max_ejection_percent` is checked *before* ejecting, counting the host about to go:
  `100 * (ejected + 1) / hosts <= max_ejection_percent` (Envoy v1.28 made this apply to the first
  ejection too, runtime guard `check_mep_on_first_eject`; v1.31 removed the old path). "At least
  one host is ejected whatever the percentage" was the behaviour up to v1.27 and is, from v1.31,
  only what `always_eject_one_host: true` does; Istio does not set it, so with 10 % of 3 hosts
  nothing is ejected. Istio sends `maxEjectionPercent` only when > 0, so 0 means Envoy's 10.
- An ejected host stays out for `min(base_ejection_time x multiplier, max_ejection_time)`; the
  multiplier goes up by one at each ejection while `multiplier x base < max + base`.
  `max_ejection_time` is not set by Istio: Envoy then uses max(300 s, base_ejection_time).
- Hosts come back only at the `interval` sweep (a timer re-armed `interval` after each sweep) at or
  after that time has passed; their counts are reset. At each sweep, after the returns, the
  multiplier of every host that is not ejected and has been back for at least one `interval`
  goes down by one (to 0 at least).
- Panic: Istio sets Envoy's `healthy_panic_threshold` to `minHealthPercent` (0, i.e. never, when the
  field is absent). When `100 * healthy / hosts < threshold`, Envoy balances over all hosts,
  ejected ones included; ejection and its bookkeeping go on as usual.

Hosts are the pool's members (a Kubernetes endpoint that is not Ready is not one, as with Istio's
EDS); a host that leaves and comes back is a new host with fresh counts. Jitter
(`max_ejection_time_jitter`, 0 by default, not set by Istio) is not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Host = tuple[str, int]
DEFAULT_MAX_EJECTION_S = 300.0
GATEWAY_ERRORS = frozenset({502, 503, 504})


@dataclass(frozen=True)
class DetectorConfig:
    """The Envoy outlier_detection fields that Istio sets (0 threshold: that detector not enforced)."""

    consecutive_5xx: int = 5
    consecutive_gateway: int = 0
    interval_s: float = 10.0
    base_ejection_s: float = 30.0
    max_ejection_percent: int = 10
    max_ejection_s: float | None = None  # None: Envoy's default, max(300 s, base)
    panic_threshold_percent: int = 0  # Envoy's healthy_panic_threshold (Istio: minHealthPercent)
    always_eject_one_host: bool = False

    @property
    def max_ejection_time_s(self) -> float:
        if self.max_ejection_s is None:
            return max(DEFAULT_MAX_EJECTION_S, self.base_ejection_s)
        return self.max_ejection_s


@dataclass(frozen=True)
class OutlierEvent:
    """What the detector decided: a host ejected (`eject`), returned (`uneject`), or an ejection the
    max_ejection_percent refused (`overflow`)."""

    kind: Literal["eject", "uneject", "overflow"]
    host: Host
    at: float
    reason: str  # consecutive_5xx | consecutive_gateway_failure | interval sweep
    ejection: int  # how many times the host has been ejected (this one included)
    duration_s: float  # eject: how long it stays out at least; uneject: how long it was out


@dataclass
class _Monitor:
    consecutive_5xx: int = 0
    consecutive_gateway: int = 0
    ejected: bool = False
    ejections: int = 0
    multiplier: int = 0
    last_ejection: float | None = None
    last_unejection: float | None = None


class OutlierDetector:
    """The outlier detector of one backend pool (an Envoy cluster)."""

    def __init__(self, config: DetectorConfig, now: float) -> None:
        self.config = config
        self.next_sweep = now + config.interval_s
        self._hosts: dict[Host, _Monitor] = {}

    # -- membership ------------------------------------------------------------------------------
    def set_hosts(self, hosts: Iterable[Host]) -> None:
        """The pool's members now: new ones start with fresh counts, gone ones are forgotten."""
        wanted = set(hosts)
        for host in [h for h in self._hosts if h not in wanted]:
            del self._hosts[host]
        for host in wanted:
            self._hosts.setdefault(host, _Monitor())

    @property
    def hosts(self) -> list[Host]:
        return sorted(self._hosts)

    # -- responses -------------------------------------------------------------------------------
    def record(self, host: Host, status: int, now: float) -> list[OutlierEvent]:
        """Count one response of `host`; the ejection (or refused ejection) it causes, if any."""
        m = self._hosts.get(host)
        if m is None:
            return []
        triggered: list[str] = []
        if 500 <= status <= 599:
            if status in GATEWAY_ERRORS:
                m.consecutive_gateway += 1
                if m.consecutive_gateway == self.config.consecutive_gateway:
                    triggered.append("consecutive_gateway_failure")
            else:
                m.consecutive_gateway = 0
            m.consecutive_5xx += 1
            if m.consecutive_5xx == self.config.consecutive_5xx:
                triggered.append("consecutive_5xx")
        else:
            m.consecutive_5xx = 0
            m.consecutive_gateway = 0
        events = []
        for reason in triggered:
            if m.ejected:  # Envoy returns before resetting the count
                continue
            events.append(self._eject(host, m, reason, now))
            if reason == "consecutive_5xx":
                m.consecutive_5xx = 0
            else:
                m.consecutive_gateway = 0
        return events

    def _eject(self, host: Host, m: _Monitor, reason: str, now: float) -> OutlierEvent:
        cfg = self.config
        active = sum(1 for x in self._hosts.values() if x.ejected)
        should = 100.0 * (active + 1) / len(self._hosts) <= min(100, cfg.max_ejection_percent)
        if cfg.always_eject_one_host and active == 0:
            should = True
        if not should:
            return OutlierEvent("overflow", host, now, reason, m.ejections, 0.0)
        m.ejected = True
        m.ejections += 1
        m.last_ejection = now
        if m.multiplier * cfg.base_ejection_s < cfg.max_ejection_time_s + cfg.base_ejection_s:
            m.multiplier += 1
        return OutlierEvent("eject", host, now, reason, m.ejections, self._ejection_time(m))

    def _ejection_time(self, m: _Monitor) -> float:
        return min(self.config.base_ejection_s * m.multiplier, self.config.max_ejection_time_s)

    # -- the interval sweep ------------------------------------------------------------------------
    def tick(self, now: float) -> list[OutlierEvent]:
        """Run the sweep when its timer is due (then re-armed `interval` from now)."""
        if now < self.next_sweep:
            return []
        events = self.sweep(now)
        self.next_sweep = now + self.config.interval_s
        return events

    def sweep(self, now: float) -> list[OutlierEvent]:
        """One interval sweep: return the hosts whose ejection time has passed, then let the
        multiplier of hosts back for at least one interval go down by one."""
        events = []
        for host, m in sorted(self._hosts.items()):
            if not m.ejected or m.last_ejection is None:
                continue
            if self._ejection_time(m) <= now - m.last_ejection:
                m.ejected = False
                m.consecutive_5xx = 0
                m.consecutive_gateway = 0
                m.last_unejection = now
                events.append(OutlierEvent("uneject", host, now, "interval sweep", m.ejections, now - m.last_ejection))
        for m in self._hosts.values():
            if m.ejected or m.last_unejection is None:
                continue
            if now - m.last_unejection >= self.config.interval_s and m.multiplier > 0:
                m.multiplier -= 1
        return events

    # -- what the load balancer may use -------------------------------------------------------------
    def ejected(self) -> set[Host]:
        return {h for h, m in self._hosts.items() if m.ejected}

    def multiplier(self, host: Host) -> int:
        m = self._hosts.get(host)
        return m.multiplier if m is not None else 0

    def in_panic(self) -> bool:
        """Envoy's panic mode: the healthy share of the hosts is under the panic threshold."""
        if not self._hosts:
            return False
        healthy = 100.0 * (len(self._hosts) - len(self.ejected())) / len(self._hosts)
        return healthy < min(100, self.config.panic_threshold_percent)

    def routable(self) -> set[Host]:
        """The hosts traffic may go to: all of them in panic, else those not ejected."""
        return set(self._hosts) if self.in_panic() else set(self._hosts) - self.ejected()
