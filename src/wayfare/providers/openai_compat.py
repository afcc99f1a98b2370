"""Any OpenAI-compatible upstream (OpenAI, vLLM, Ollama, Together, Groq...) over shared pooled aiohttp sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from wayfare.providers.base import JSON, Endpoint
from wayfare.providers.errors import ProviderError
from wayfare.providers.http import TRANSPORT_ERRORS, HttpClients, open_stream, post, transport_error
from wayfare.providers.sse import iter_sse

_PATHS: dict[str, str] = {"chat": "/chat/completions", "completions": "/completions", "embeddings": "/embeddings"}


def parse_json_body(content: bytes, provider: str) -> JSON:
    """A 200 body as a JSON object; malformed JSON and ``{"error": ...}`` bodies raise :class:`ProviderError`."""
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise ProviderError(f"{provider} sent malformed JSON: {exc}", error_class="malformed") from None
    if not isinstance(data, dict):
        raise ProviderError(f"{provider} sent JSON that is not an object", error_class="malformed")
    if "error" in data and data["error"] and "choices" not in data and "data" not in data:
        err = data["error"]
        message = err.get("message", err) if isinstance(err, dict) else err
        raise ProviderError(f"{provider} answered 200 with an error: {message}", error_class="error_body", body=data)
    return data


class OpenAIProvider:
    """Adapter for an OpenAI-compatible ``base_url`` (ending in ``/v1``). The API key comes from config only."""

    kind = "openai"

    def __init__(self, clients: HttpClients, base_url: str, api_key: str | None = None, name: str = "") -> None:
        self.clients = clients
        self.base_url = base_url.rstrip("/")
        self.name = name or self.base_url
        self.headers = {"content-type": "application/json"}
        if api_key:
            self.headers["authorization"] = f"Bearer {api_key}"

    async def request(self, endpoint: Endpoint, body: JSON, timeout: float) -> JSON:
        url = self.base_url + _PATHS[endpoint]
        content = await post(self.clients, url, orjson.dumps(body), self.headers, timeout, self.name)
        return parse_json_body(content, self.name)

    async def stream(self, body: JSON, timeout: float, endpoint: Endpoint = "chat") -> OpenAIChunkStream:
        url = self.base_url + _PATHS[endpoint]
        resp = await open_stream(self.clients, url, orjson.dumps(body), self.headers, timeout, self.name)
        stream = OpenAIChunkStream(resp, self.name)
        await stream.prime()
        return stream


class OpenAIChunkStream:
    """Chunks of an OpenAI SSE stream; the first one is read by :meth:`prime` before the client sees anything."""

    def __init__(self, response: aiohttp.ClientResponse, provider: str) -> None:
        self.response = response
        self.provider = provider
        self._events = iter_sse(response)
        self._first: JSON | None = None
        self._finished = False

    async def _next(self) -> JSON | None:
        try:
            async for _event, data in self._events:
                if data.strip() == "[DONE]":
                    self._finished = True
                    return None
                chunk = _parse_chunk(data, self.provider)
                for choice in chunk.get("choices") or ():
                    if isinstance(choice, dict) and choice.get("finish_reason"):
                        self._finished = True
                return chunk
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc, self.provider) from None
        if not self._finished:
            raise ProviderError(f"{self.provider} stream ended before it finished", error_class="stream_incomplete")
        return None

    async def prime(self) -> None:
        try:
            self._first = await self._next()
        except BaseException:
            await self.aclose()
            raise

    async def __aiter__(self) -> AsyncIterator[JSON]:
        try:
            if self._first is not None:
                yield self._first
                self._first = None
            while (chunk := await self._next()) is not None:
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._finished:
            self.response.release()  # fully read: the connection goes back to the pool
        else:
            self.response.close()  # abandoned mid-stream: the connection cannot be reused


def _parse_chunk(data: str, provider: str) -> JSON:
    try:
        chunk: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProviderError(f"{provider} sent a malformed stream event: {exc}", error_class="malformed") from None
    if not isinstance(chunk, dict):
        raise ProviderError(f"{provider} sent a stream event that is not an object", error_class="malformed")
    if chunk.get("error"):
        err = chunk["error"]
        message = err.get("message", err) if isinstance(err, dict) else err
        raise ProviderError(f"{provider} sent an error in the stream: {message}", error_class="error_body", body=chunk)
    return chunk
