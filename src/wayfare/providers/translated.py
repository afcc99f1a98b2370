"""The part every translated stream shares: an upstream stream in another wire format (Anthropic's events,
Gemini's SSE, Bedrock's event-stream frames) handed to the gateway as OpenAI ``chat.completion.chunk`` objects."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp

from wayfare.providers.base import JSON


class TranslatedChunkStream:
    """A :class:`~wayfare.providers.base.ChunkStream` over a translated upstream stream.

    Subclasses read the upstream in :meth:`_fill` (append the chunks it yields to ``_pending``; return False at the
    end) and say in :meth:`_read_to_end` whether the body was read whole, so the connection can go back to the pool.
    """

    def __init__(self, response: aiohttp.ClientResponse, provider: str) -> None:
        self.response = response
        self.provider = provider
        self._pending: list[JSON] = []

    async def _fill(self) -> bool:
        raise NotImplementedError

    def _read_to_end(self) -> bool:
        raise NotImplementedError

    async def prime(self) -> None:
        """Read up to the first chunk (before the client sees a byte, so a failure here can still be retried)."""
        try:
            await self._fill()
        except BaseException:
            await self.aclose()
            raise

    async def __aiter__(self) -> AsyncIterator[JSON]:
        try:
            while self._pending or await self._fill():
                chunks, self._pending = self._pending, []
                for chunk in chunks:
                    yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._read_to_end():
            self.response.release()  # the connection goes back to the pool
        else:
            self.response.close()
