"""The aiohttp-based upstream plumbing against real servers on 127.0.0.1: lines, errors, sessions per loop."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from wayfare.mockllm.runner import ThreadedServer
from wayfare.providers.errors import ProviderError
from wayfare.providers.http import HttpClients, iter_lines, open_stream, post

LONG = "x" * 300_000  # longer than aiohttp's own readline limit


async def _raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    if scope["path"] == "/lines":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one\r\ntw", b"o\n", LONG.encode()[:100_000], LONG.encode()[100_000:] + b"\n", b"last"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.start", "status": 429, "headers": [(b"retry-after-ms", b"250")]})
        await send({"type": "http.response.body", "body": b'{"error": {"message": "slow down"}}'})


@pytest.fixture(scope="module")
def server() -> Any:
    with ThreadedServer(_raw_app) as srv:
        yield srv


def test_lines_split_on_lf_and_crlf_with_no_length_limit(server: ThreadedServer) -> None:
    async def go() -> list[str]:
        clients = HttpClients()
        try:
            resp = await open_stream(clients, server.url + "/lines", b"{}", {}, 5.0, "raw")
            lines = [line async for line in iter_lines(resp)]
            resp.release()
            return lines
        finally:
            await clients.aclose()

    assert asyncio.run(go()) == ["one", "two", LONG, "last"]


def test_status_errors_carry_status_retry_after_and_message(server: ThreadedServer) -> None:
    async def go() -> None:
        clients = HttpClients()
        try:
            await post(clients, server.url + "/limited", b"{}", {}, 5.0, "raw")
        finally:
            await clients.aclose()

    with pytest.raises(ProviderError) as info:
        asyncio.run(go())
    err = info.value
    assert err.status == 429 and err.error_class == "rate_limited" and err.retry_after == 0.25
    assert "slow down" in err.message


def test_refused_connection_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket is closed

    async def go() -> None:
        clients = HttpClients()
        try:
            await post(clients, f"http://127.0.0.1:{port}/x", b"{}", {}, 2.0, "nowhere")
        finally:
            await clients.aclose()

    with pytest.raises(ProviderError) as info:
        asyncio.run(go())
    assert info.value.error_class == "connection" and info.value.status is None


def test_sessions_follow_the_running_loop() -> None:
    clients = HttpClients(shards=2)

    async def sessions() -> tuple[Any, Any, Any]:
        return clients.get(), clients.get(), clients.get()

    a1, b1, a1_again = asyncio.run(sessions())
    assert a1 is not b1 and a1 is a1_again  # round robin over 2 shards
    a2, _, _ = asyncio.run(sessions())  # a new loop gets new sessions
    assert a2 is not a1
    asyncio.run(clients.aclose())


def test_bad_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="shards"):
        HttpClients(shards=0)
