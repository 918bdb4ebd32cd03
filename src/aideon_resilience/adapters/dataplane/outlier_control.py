"""Envoy's outlier detection applied to HAProxy: the supervisor's outlier thread.

One `OutlierDetector` per service whose DestinationRule has outlierDetection (`configure`), whose
hosts are the service's Ready backends (`set_hosts`, from the supervisor's tick). The thread reads
what the pools answered (`request_log`): every attempt a stand-in answered counts in the detector
of its backend, and so does every response HAProxy gave for a server itself (refused, reset, timed
out), as Envoy counts each attempt's response. It runs each detector's interval sweep when due and
makes HAProxy route as the detector says: the ejected servers forced down
(`HAProxy.set_forced_down`), none in panic. Ejections and returns are appended to
`ejections.jsonl` (`state.dataplane_events`) as they happen, and so are the ejections
maxEjectionPercent refused (`state: refused`).

It also counts per pool, with outlier detection or without, and every `POOL_TRAFFIC_PERIOD_S`
appends one `pool_traffic` line per pool that answered in that period: `responses`, `errors` (5xx)
and `no_host` (HAProxy had no server for it) of what the clients got; `attempts` and
`attempt_errors` (5xx) of what the pool's hosts answered, retried attempts included, plus the
attempts HAProxy answered for a host; and the pool's `hosts`, `ejected` and `panic` at that time.
So a verdict can say which subset the errors came from.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aideon_resilience.adapters.dataplane.outlier_detector import Host, OutlierDetector, OutlierEvent
from aideon_resilience.adapters.dataplane.proxy import HAProxy
from aideon_resilience.adapters.dataplane.proxy_config import OutlierPolicy
from aideon_resilience.adapters.dataplane.request_log import RequestLog, Response

log = logging.getLogger("aideon.dataplane.outlier")

_BACKEND_PREFIX = "be_"
POOL_TRAFFIC_PERIOD_S = 5.0


class OutlierControl:
    """The detectors of the data plane's services and their effect on HAProxy."""

    def __init__(
        self,
        proxy: HAProxy,
        events_path: Path,
        requests: RequestLog,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.proxy = proxy
        self.events_path = events_path
        self.requests = requests
        self.clock = clock
        self.wall = wall
        self.lock = threading.Lock()
        self.detectors: dict[str, OutlierDetector] = {}
        self.policies: dict[str, OutlierPolicy] = {}
        self.hosts: dict[str, list[Host]] = {}
        self.panic: dict[str, bool] = {}
        self.overflows: dict[str, int] = {}
        # per pool since the last flush: responses, 5xx, no host (the clients'); attempts, 5xx (the hosts')
        self.traffic: dict[str, list[int]] = {}
        self.next_flush = self.clock() + POOL_TRAFFIC_PERIOD_S

    # -- from the supervisor's tick ----------------------------------------------------------------
    def configure(self, service: str, policy: OutlierPolicy) -> None:
        """The service's policy; a changed one starts a new detector (as Envoy does for a changed cluster)."""
        with self.lock:
            if self.policies.get(service) == policy:
                return
            self.policies[service] = policy
            if not policy.enabled:
                self.detectors.pop(service, None)
                self.panic.pop(service, None)
                return
            detector = OutlierDetector(policy.detector_config(), self.clock())
            detector.set_hosts(self.hosts.get(service, []))
            self.detectors[service] = detector
            self._apply(service)

    def set_hosts(self, service: str, hosts: list[Host]) -> None:
        with self.lock:
            self.hosts[service] = list(hosts)
            detector = self.detectors.get(service)
            if detector is not None:
                detector.set_hosts(hosts)
                self._apply(service)

    # -- the outlier thread ------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step(0.1)
            except Exception as exc:  # HAProxy reloading, a socket error: keep going
                log.warning("outlier detection step failed: %s", exc)
                stop.wait(0.2)

    def step(self, timeout: float) -> list[tuple[str, OutlierEvent]]:
        """Read what HAProxy logged (waiting up to `timeout`), count it, sweep when due, apply."""
        return self.handle(self.requests.read(timeout))

    def handle(self, responses: list[Response]) -> list[tuple[str, OutlierEvent]]:
        with self.lock:
            now = self.clock()
            events: list[tuple[str, OutlierEvent]] = []
            for r in responses:
                pool = r.backend.removeprefix(_BACKEND_PREFIX)
                counts = self.traffic.setdefault(pool, [0, 0, 0, 0, 0])
                error = r.status >= 500
                if r.source == "proxy":
                    counts[0] += 1
                    counts[1] += error
                    counts[2] += r.server is None
                attempt = r.source == "server" or r.proxy_made
                if attempt:
                    counts[3] += 1
                    counts[4] += error
                detector = self.detectors.get(pool)
                if detector is not None and r.server is not None and attempt:
                    events += [(pool, e) for e in detector.record(r.server, r.status, now)]
            for service, detector in self.detectors.items():
                events += [(service, e) for e in detector.tick(now)]
            for service in sorted({s for s, _ in events}):
                self._apply(service)
            self._write(events)
            if now >= self.next_flush:
                self._write_traffic()
                self.next_flush = now + POOL_TRAFFIC_PERIOD_S
            return events

    def _apply(self, service: str) -> None:
        """HAProxy routes as the detector says: ejected servers forced down, unless in panic."""
        detector = self.detectors[service]
        panic = detector.in_panic()
        if panic != self.panic.get(service, False):
            log.info("%s: panic mode %s (healthy below minHealthPercent)", service, "on" if panic else "off")
        self.panic[service] = panic
        self.proxy.set_forced_down(service, set() if panic else detector.ejected())

    def _write(self, events: list[tuple[str, OutlierEvent]]) -> None:
        lines = []
        t = self.wall()
        for service, e in events:
            state = {"eject": "down", "uneject": "up", "overflow": "refused"}[e.kind]
            record: dict[str, Any] = {
                "t": t, "kind": "ejection", "service": service, "backend": f"{e.host[0]}:{e.host[1]}",
                "state": state, "ejection": e.ejection,
            }  # fmt: skip
            if e.kind == "overflow":
                self.overflows[service] = self.overflows.get(service, 0) + 1
                record["reason"] = e.reason
            elif e.kind == "eject":
                record |= {"ejection_s": e.duration_s, "reason": e.reason, "panic": self.panic.get(service, False)}
            else:
                record["ejected_s"] = round(e.duration_s, 3)
            lines.append(json.dumps(record))
            log.info("%s: %s", service, lines[-1])
        self._append(lines)

    def _write_traffic(self) -> None:
        """One `pool_traffic` line per pool that answered since the last one; the counts start again."""
        t = self.wall()
        lines = []
        for pool, (responses, errors, no_host, attempts, attempt_errors) in sorted(self.traffic.items()):
            if responses or attempts:
                detector = self.detectors.get(pool)
                lines.append(json.dumps({
                    "t": t, "kind": "pool_traffic", "service": pool, "period_s": POOL_TRAFFIC_PERIOD_S,
                    "responses": responses, "errors": errors, "no_host": no_host,
                    "attempts": attempts, "attempt_errors": attempt_errors,
                    "hosts": len(self.hosts.get(pool, [])), "ejected": len(detector.ejected()) if detector else 0,
                    "panic": self.panic.get(pool, False),
                }))  # fmt: skip
        self.traffic = {}
        self._append(lines)

    def _append(self, lines: list[str]) -> None:
        if lines:
            with self.events_path.open("a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per service with outlier detection: ejected servers, panic, refused ejections, and the
        policy's interval, baseEjectionTime and maxEjectionPercent (state.json)."""
        with self.lock:
            return {
                service: {
                    "ejected": [f"{h}:{p}" for h, p in sorted(d.ejected())],
                    "panic": self.panic.get(service, False),
                    "overflows": self.overflows.get(service, 0),
                    "interval_s": d.config.interval_s,
                    "base_ejection_s": d.config.base_ejection_s,
                    "max_ejection_percent": d.config.max_ejection_percent,
                }
                for service, d in sorted(self.detectors.items())
            }
