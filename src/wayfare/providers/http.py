"""Pooled upstream HTTP for the providers: aiohttp ``ClientSession`` s over a keep-alive ``TCPConnector``.

Measured on the mock upstream (32 concurrent requests, one core): httpx/httpcore cost ~0.8 ms of CPU per request
(its pool also scans every pooled connection per request), aiohttp ~0.15 ms (C HTTP parser, O(1) connection reuse).
Sessions are created lazily inside the running event loop (the gateway is built before the server's loop starts).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp
from yarl import URL

from wayfare.providers.base import UPSTREAM_HEADERS
from wayfare.providers.errors import ProviderError, from_status


class HttpClients:
    """``shards`` aiohttp sessions (round robin), each with at most ``max_connections`` keep-alive connections
    (0: no limit; requests beyond the limit wait for a free connection). One session is usually enough."""

    def __init__(self, shards: int = 1, max_connections: int = 1024, keepalive_expiry: float = 60.0) -> None:
        if shards < 1 or max_connections < 0:
            raise ValueError("shards must be at least 1 and max_connections at least 0")
        self.shards = shards
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self._sessions: list[aiohttp.ClientSession] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next: itertools.cycle[aiohttp.ClientSession] | None = None

    def _open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._sessions = [
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.max_connections,
                    limit_per_host=0,
                    keepalive_timeout=self.keepalive_expiry,
                    ttl_dns_cache=300,
                ),
                timeout=aiohttp.ClientTimeout(total=None),
                trust_env=False,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
            for _ in range(self.shards)
        ]
        self._next = itertools.cycle(self._sessions)

    def get(self) -> aiohttp.ClientSession:
        """A session bound to the running event loop (opened on first use)."""
        if self._next is None or self._loop is not asyncio.get_running_loop():
            self._open()
        assert self._next is not None
        return next(self._next)

    async def aclose(self) -> None:
        sessions, self._sessions, self._next, self._loop = self._sessions, [], None, None
        for s in sessions:
            await s.close()


_TIMEOUTS: dict[float, aiohttp.ClientTimeout] = {}


def timeout_for(seconds: float) -> aiohttp.ClientTimeout:
    """The timeout of "seconds without progress": connecting, or waiting for the next bytes of the response."""
    t = _TIMEOUTS.get(seconds)
    if t is None:
        t = _TIMEOUTS[seconds] = aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
    return t


def transport_error(exc: BaseException, provider: str) -> ProviderError:
    """A :class:`ProviderError` for an aiohttp / socket failure (timeouts included)."""
    if isinstance(exc, TimeoutError):
        return ProviderError(f"{provider} timed out ({type(exc).__name__})", error_class="timeout")
    detail = f": {exc}" if str(exc) else ""
    return ProviderError(f"{provider} connection failed: {type(exc).__name__}{detail}", error_class="connection")


TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
"""What an upstream call can raise besides :class:`ProviderError` (converted by :func:`transport_error`)."""


def _surface(resp: aiohttp.ClientResponse, names: tuple[str, ...]) -> None:
    """Hand the response headers ``names`` (those present) to the gateway through ``UPSTREAM_HEADERS``."""
    if names:
        found = {n: v for n in names if (v := resp.headers.get(n)) is not None}
        UPSTREAM_HEADERS.set(found or None)


ErrorFor = Callable[[int, bytes, Mapping[str, str], str], ProviderError]
"""Builds the error of a non-2xx answer from (status, body, headers, provider name)."""


async def post(
    clients: HttpClients,
    url: str | URL,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    provider: str,
    surface: tuple[str, ...] = (),
    error: ErrorFor = from_status,
) -> bytes:
    """POST and return a 2xx body; a non-2xx answer (``error`` builds its exception, default
    :func:`~wayfare.providers.errors.from_status`) or a transport failure raises :class:`ProviderError`.
    ``surface``: response headers to pass on to the client (see ``UPSTREAM_HEADERS``)."""
    try:
        async with clients.get().post(url, data=body, headers=headers, timeout=timeout_for(timeout)) as resp:
            _surface(resp, surface)
            content = await resp.read()
            if resp.status >= 400:
                raise error(resp.status, content, resp.headers, provider)
            return content
    except TRANSPORT_ERRORS as exc:
        raise transport_error(exc, provider) from None


async def open_stream(
    clients: HttpClients,
    url: str | URL,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    provider: str,
    surface: tuple[str, ...] = (),
    error: ErrorFor = from_status,
) -> aiohttp.ClientResponse:
    """POST and return the open 2xx response (the caller closes it); errors as in :func:`post`."""
    try:
        resp = await clients.get().post(url, data=body, headers=headers, timeout=timeout_for(timeout))
    except TRANSPORT_ERRORS as exc:
        raise transport_error(exc, provider) from None
    _surface(resp, surface)
    if resp.status >= 400:
        try:
            content = await resp.read()
        except TRANSPORT_ERRORS:
            content = b""
        finally:
            resp.release()
        raise error(resp.status, content, resp.headers, provider)
    return resp


async def iter_lines(resp: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """Decoded lines of a streamed body (``\\n`` or ``\\r\\n``), with no length limit per line."""
    buf = b""
    async for data in resp.content.iter_any():
        buf += data
        if b"\n" not in data:
            continue
        *lines, buf = buf.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if buf:
        yield buf.rstrip(b"\r").decode("utf-8", "replace")
