"""HAProxy in front of each platform service of the local data plane, on loopback ports.

One frontend and one backend per platform service. A backend is a fixed set of server slots
(`server-template`) whose addresses are filled in and emptied at run time over HAProxy's runtime
API (unix stats socket: `set server B/S addr 127.0.0.1 port P`, `set server B/S state ready|maint`,
`set server B/S health up`), so the backends follow the live stand-in processes of a service's
Ready pods without a reload and without dropping connections. Only when a service needs more
slots than the configuration has, or a DestinationRule changes, is the configuration re-rendered
and HAProxy reloaded gracefully (`haproxy -x SOCK -sf OLD`: the new process takes the listening
sockets over, the old one finishes its connections; the servers' addresses and states are carried
over through `server-state-file`, saved from `show servers state` just before). Once the new
process answers on the runtime socket (its own pid in `show info`: until it binds the path, the old
process answers there), every slot is set to the supervisor's assignment, slot for slot.

Outlier ejection is the supervisor's (`outlier_control`): `set_forced_down` forces a server's agent
down (the server leaves the balancing, connections in progress finish) or back up. The forced set
survives slot changes and reloads. The configuration is rendered by `proxy_config`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from aideon_resilience.adapters.dataplane.proxy_config import (
    MIN_SLOTS,
    ProxySettings,
    ServiceProxy,
    render_config,
)
from aideon_resilience.adapters.dataplane.proxy_config import (
    backend_name as backend_name,  # re-exported: the gate names the gateway's backend through this module
)
from aideon_resilience.adapters.localhost import free_port
from aideon_resilience.errors import InfrastructureError
from aideon_resilience.settings import settings

_DEFAULT_SETTINGS = ProxySettings()
_OP_STATES = {"0": "DOWN", "1": "STARTING", "2": "UP", "3": "STOPPING"}
_ADMIN_MAINT = 0x01 | 0x02 | 0x20  # forced, inherited, resolution maintenance


def runtime_command(sock_path: Path, command: str, timeout: float = 3.0) -> str:
    """Send one command to HAProxy's runtime API (unix socket) and return its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def haproxy_binary() -> str:
    for cand in (settings().text("AIDEON_HAPROXY") or "", "/usr/sbin/haproxy", "/usr/bin/haproxy"):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise InfrastructureError("haproxy is not installed (install it: apt-get update && apt-get install -y haproxy)")


class HAProxy:
    """A HAProxy process of the data plane and the slot assignment of each backend."""

    def __init__(
        self,
        workdir: Path,
        settings: ProxySettings = _DEFAULT_SETTINGS,
        request_log: tuple[int, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.request_log = request_log  # (UDP port, log-format) of the per-request log
        # Held bound but not listening: the agent checks' port refuses connections.
        self._agent_hold: socket.socket | None = None
        self.lock = threading.RLock()  # the supervisor's tick and its outlier thread both change servers
        self.settings = settings
        self.config_path = workdir / "haproxy.cfg"
        self.sock = workdir / "haproxy.sock"
        self.log_path = workdir / "haproxy.log"
        self.state_path = workdir / "servers.state"
        self.stats_port = 0
        self.services: dict[str, ServiceProxy] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.old: list[subprocess.Popen[bytes]] = []
        # backend -> slot number -> (host, port)
        self.assigned: dict[str, dict[int, tuple[str, int]]] = {}
        # service -> servers whose agent is forced down (ejected by outlier detection)
        self.forced_down: dict[str, set[tuple[str, int]]] = {}

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self, services: list[ServiceProxy], stats_port: int = 0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stats_port = stats_port or free_port()
        self.services = {s.service: s for s in services}
        if self._agent_hold is None:
            self._agent_hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._agent_hold.bind(("127.0.0.1", 0))
        with self.lock:
            self._launch()

    @property
    def agent_port(self) -> int | None:
        return self._agent_hold.getsockname()[1] if self._agent_hold is not None else None

    def _render(self) -> str:
        return render_config(
            list(self.services.values()), self.sock, self.stats_port, self.settings, self.state_path,
            self.request_log, self.agent_port,
        )  # fmt: skip

    def _launch(self) -> None:
        text = self._render()
        self.config_path.write_text(text, encoding="utf-8")
        binary = haproxy_binary()
        check = subprocess.run([binary, "-c", "-q", "-f", str(self.config_path)], capture_output=True, text=True)
        if check.returncode != 0:
            raise InfrastructureError(f"haproxy rejected {self.config_path}: {check.stderr.strip()[:300]}")
        cmd = [binary, "-db", "-f", str(self.config_path)]
        previous = self.proc
        if previous is None:
            self.state_path.write_text("1\n", encoding="utf-8")
        else:
            # The new process starts with the live servers (addresses, states) of the old one, so no
            # request meets an empty backend between the takeover and the replay below.
            self.state_path.write_text(runtime_command(self.sock, "show servers state"), encoding="utf-8")
            cmd += ["-x", str(self.sock), "-sf", str(previous.pid)]
            self.old.append(previous)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 10
        own_pid = f"Pid: {self.proc.pid}"
        while True:
            if self.proc.poll() is not None:
                raise InfrastructureError(f"haproxy exited at start (see {self.log_path})")
            # Until the new process binds the socket path, the old one answers on it: a command sent
            # then changes the process that is going away.
            with contextlib.suppress(OSError):
                if own_pid in runtime_command(self.sock, "show info", 1.0).splitlines():
                    break
            if time.monotonic() > deadline:
                raise InfrastructureError(f"haproxy did not open its runtime socket {self.sock}")
            time.sleep(0.05)
        # The new process took the old one's server states from the state file (or starts with every
        # slot disabled): set every slot to the live assignment, slot for slot, so none keeps an
        # address the supervisor no longer tracks.
        for service, slots in self.assigned.items():
            self._restore(service, slots)
        for service, down in self.forced_down.items():
            self._force(service, down, "down")
        self.reap()

    def reload(self) -> None:
        if self.proc is None:
            raise InfrastructureError("haproxy is not running")
        with self.lock:
            self._launch()

    def reap(self) -> None:
        self.old = [p for p in self.old if p.poll() is None]

    def stop(self) -> None:
        for p in [*self.old, *([self.proc] if self.proc else [])]:
            if p.poll() is None:
                p.send_signal(signal.SIGUSR1)  # soft stop
        for p in [*self.old, *([self.proc] if self.proc else [])]:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.proc = None
        self.old = []
        if self._agent_hold is not None:
            self._agent_hold.close()
            self._agent_hold = None

    # -- runtime changes ------------------------------------------------------------------------
    def cmd(self, command: str) -> str:
        out = runtime_command(self.sock, command)
        return out.strip()

    def update_service(self, svc: ServiceProxy) -> bool:
        """Adopt a changed policy, timeout, route or retries for a service; True when HAProxy was reloaded."""
        with self.lock:
            old = self.services.get(svc.service)
            svc.slots = max(svc.slots, old.slots if old else MIN_SLOTS)
            self.services[svc.service] = svc
            if old is not None and (old.policy, old.connect_timeout_s, old.port, old.routes, old.frontend,
                                    old.retries) == (
                svc.policy, svc.connect_timeout_s, svc.port, svc.routes, svc.frontend, svc.retries,
            ):  # fmt: skip
                return False
            if not svc.policy.enabled:
                self.forced_down.pop(svc.service, None)
            self.reload()
            return True

    def set_backends(self, service: str, addrs: list[tuple[str, int]]) -> None:
        """Make `addrs` the servers of the service's backend (only changed slots are touched)."""
        with self.lock:
            svc = self.services[service]
            if len(addrs) > svc.slots:
                svc.slots = max(len(addrs), svc.slots * 2)
                self.reload()
            self._apply(service, addrs)

    def set_forced_down(self, service: str, addrs: set[tuple[str, int]]) -> None:
        """Make `addrs` (those that are servers of the backend) exactly the servers forced down."""
        with self.lock:
            if not self.services[service].policy.enabled:
                return
            live = set(self.assigned.get(service, {}).values())
            wanted = addrs & live
            current = self.forced_down.get(service, set()) & live
            self._force(service, current - wanted, "up")
            self._force(service, wanted - current, "down")
            self.forced_down[service] = wanted

    def _force(self, service: str, addrs: set[tuple[str, int]], state: str) -> None:
        slot_of = {addr: slot for slot, addr in self.assigned.get(service, {}).items()}
        for addr in sorted(addrs):
            if addr in slot_of:
                self.cmd(f"set server {backend_name(service)}/s{slot_of[addr]} agent {state}")

    def _apply(self, service: str, addrs: list[tuple[str, int]]) -> None:
        be = backend_name(service)
        slots = self.assigned.setdefault(service, {})
        wanted = set(addrs)
        for slot, addr in list(slots.items()):
            if addr not in wanted:
                # No new requests; connections in progress finish.
                self.cmd(f"set server {be}/s{slot} state maint")
                del slots[slot]
                self.forced_down.get(service, set()).discard(addr)
        have = set(slots.values())
        free = [n for n in range(1, self.services[service].slots + 1) if n not in slots]
        for addr in addrs:
            if addr in have:
                continue
            slot = free.pop(0)
            self._serve(service, slot, addr)
            slots[slot] = addr

    def _serve(self, service: str, slot: int, addr: tuple[str, int]) -> None:
        """Put `addr` in service in the slot, up and not ejected (an ejection is re-forced by the caller)."""
        be = backend_name(service)
        host, port = addr
        self.cmd(f"set server {be}/s{slot} addr {host} port {port}")
        self.cmd(f"set server {be}/s{slot} state ready")
        # The runtime added it because it answered /ready: no need to wait for `rise` checks.
        self.cmd(f"set server {be}/s{slot} health up")
        if self.services[service].policy.enabled:  # a new host is not ejected, whatever the slot was
            self.cmd(f"set server {be}/s{slot} agent up")

    def _restore(self, service: str, slots: dict[int, tuple[str, int]]) -> None:
        for slot in range(1, self.services[service].slots + 1):
            addr = slots.get(slot)
            if addr is None:
                self.cmd(f"set server {backend_name(service)}/s{slot} state maint")
            else:
                self._serve(service, slot, addr)

    def server_states(self, service: str) -> dict[tuple[str, int], str]:
        """State of each assigned server (see `backend_status`)."""
        by_port = backend_status(self.sock, service)
        return {addr: by_port.get(addr[1], "?") for addr in self.assigned.get(service, {}).values()}


def backend_status(sock_path: Path, service: str) -> dict[int, str]:
    """Port -> state (UP, DOWN, MAINT, STARTING, STOPPING) of the servers that have an address.

    Reads `show servers state BACKEND` (space-separated, fixed columns) over the runtime socket;
    slots never assigned (port 9) are left out.
    """
    out = runtime_command(sock_path, f"show servers state {backend_name(service)}")
    found: dict[int, str] = {}
    header: list[str] = []
    for line in out.splitlines():
        if line.startswith("# "):
            header = line[2:].split()
            continue
        parts = line.split()
        if not header or len(parts) < len(header):
            continue
        row = dict(zip(header, parts, strict=False))
        port = int(row["srv_port"])
        if port == 9:
            continue
        admin = int(row["srv_admin_state"])
        found[port] = "MAINT" if admin & _ADMIN_MAINT else _OP_STATES.get(row["srv_op_state"], "?")
    return found
