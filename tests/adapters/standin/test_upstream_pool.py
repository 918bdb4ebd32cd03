"""Keep-alive connections to an upstream: one the peer closed while idle is not a failed request."""

from __future__ import annotations

import asyncio

import pytest

from aideon_resilience.adapters.standin.http import Request
from aideon_resilience.adapters.standin.upstream import UpstreamPool


async def _serve_one_request_per_connection(served: list[int]) -> asyncio.Server:
    """Answers one request per connection without `Connection: close`, then closes it: exactly
    what a proxy's keep-alive timeout does to an idle connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        await reader.readexactly(0)
        served.append(1)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_a_connection_closed_while_idle_is_retried_on_a_fresh_one() -> None:
    async def scenario() -> list[int]:
        served: list[int] = []
        server = await _serve_one_request_per_connection(served)
        port = server.sockets[0].getsockname()[1]
        pool = UpstreamPool("127.0.0.1", port, timeout_s=5)
        req = Request("GET", "/health", {}, b"")
        statuses = [await pool.request(req)]
        await asyncio.sleep(0.1)  # the server has closed the kept connection by now
        statuses.append(await pool.request(req))
        server.close()
        await server.wait_closed()
        assert len(served) == 2
        return statuses

    assert asyncio.run(scenario()) == [200, 200]


def test_a_fresh_connection_closed_without_response_is_an_error() -> None:
    async def scenario() -> None:
        async def slam(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readline()
            writer.close()

        server = await asyncio.start_server(slam, "127.0.0.1", 0)
        pool = UpstreamPool("127.0.0.1", server.sockets[0].getsockname()[1], timeout_s=5)
        with pytest.raises(OSError, match="closed the connection without a response"):
            await pool.request(Request("GET", "/health", {}, b""))
        server.close()
        await server.wait_closed()

    asyncio.run(scenario())
