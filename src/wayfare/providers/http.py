"""Pooled HTTP clients for the providers.

httpcore's connection pool scans every connection of a pool (with a socket poll each) whenever a request is
assigned, so one pool with many concurrent connections costs O(connections) per request: at 32 concurrent
requests that was ~4 ms of CPU per request on the benchmark. Sharding over several small-ish pools (round robin)
keeps each scan short while the total connection limit stays high.
"""

from __future__ import annotations

import itertools

import httpx


class HttpClients:
    """``shards`` :class:`httpx.AsyncClient` s with ``max_connections`` each; :meth:`get` picks them round robin."""

    def __init__(self, shards: int = 32, max_connections: int = 64, keepalive_expiry: float = 60.0) -> None:
        if shards < 1 or max_connections < 1:
            raise ValueError("shards and max_connections must be at least 1")
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_expiry,
        )
        self.clients = [httpx.AsyncClient(limits=limits, timeout=600.0, trust_env=False) for _ in range(shards)]
        self._next = itertools.cycle(self.clients).__next__

    def get(self) -> httpx.AsyncClient:
        return self._next()

    async def aclose(self) -> None:
        for c in self.clients:
            await c.aclose()


def as_clients(client: httpx.AsyncClient | HttpClients) -> HttpClients:
    """Wrap a single client so providers can always call ``get()``."""
    if isinstance(client, HttpClients):
        return client
    wrapper = HttpClients.__new__(HttpClients)
    wrapper.clients = [client]
    wrapper._next = itertools.repeat(client).__next__
    return wrapper
