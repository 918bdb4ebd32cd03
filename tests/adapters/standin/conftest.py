"""A stand-in served from a background thread of the test process, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from aideon_resilience.adapters.standin.server import StandinConfig, serve


@contextmanager
def running(config: StandinConfig) -> Iterator[int]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []
    task: list[asyncio.Task[None]] = []

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            task.append(asyncio.current_task())  # type: ignore[arg-type]
            def on_ready(p: int) -> None:
                port.append(p)
                ready.set()

            await serve(config, on_ready)

        try:
            loop.run_until_complete(main())
        except asyncio.CancelledError:
            pass
        finally:
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "stand-in did not start"
    try:
        yield port[0]
    finally:
        loop.call_soon_threadsafe(task[0].cancel)
        thread.join(10)


Call = Callable[..., tuple[int, bytes]]


def client(port: int) -> Call:
    def call(method: str, path: str, body: bytes | None = None, token: str | None = "t") -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    return call


@pytest.fixture
def gateway() -> Iterator[tuple[int, Call]]:
    with running(StandinConfig("api-gateway", cpu_scale=0.1, latency_scale=0.05, seed=1)) as port:
        yield port, client(port)
