"""Server-sent events read from a streamed upstream response: (event name, data) pairs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from wayfare.providers.http import iter_lines


async def iter_sse(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str | None, str]]:
    """Yield ``(event, data)`` for each event; multi-line ``data:`` fields are joined with newlines."""
    event: str | None = None
    data: list[str] = []
    async for line in iter_lines(response):
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif line.startswith("data:"):
            data.append(line[6:] if line.startswith("data: ") else line[5:])
        elif line.startswith("event:"):
            event = line[6:].strip()
    if data:
        yield event, "\n".join(data)
