"""Anthropic's Messages API behind the OpenAI-format provider interface (requests and streams translated)."""

from __future__ import annotations

import aiohttp
import orjson

from wayfare.providers.anthropic_translate import (
    StreamTranslator,
    from_messages_response,
    to_messages_request,
)
from wayfare.providers.base import JSON, Endpoint
from wayfare.providers.errors import ProviderError
from wayfare.providers.http import TRANSPORT_ERRORS, HttpClients, open_stream, post, transport_error
from wayfare.providers.openai_compat import parse_json_body
from wayfare.providers.sse import iter_sse
from wayfare.providers.translated import TranslatedChunkStream
from wayfare.providers.translation import translate_chat, wants_usage

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicProvider:
    """Adapter for ``base_url`` (e.g. ``https://api.anthropic.com/v1``); only chat completions are translated."""

    kind = "anthropic"

    def __init__(self, clients: HttpClients, base_url: str, api_key: str | None = None, name: str = "") -> None:
        self.clients = clients
        self.url = base_url.rstrip("/") + "/messages"
        self.name = name or base_url
        self.headers = {"content-type": "application/json", "anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            self.headers["x-api-key"] = api_key

    def _translate(self, endpoint: Endpoint, body: JSON) -> JSON:
        return translate_chat(
            endpoint, body, self.name, "Anthropic", lambda b: to_messages_request(b, str(b.get("model", "")))
        )

    async def request(self, endpoint: Endpoint, body: JSON, timeout: float) -> JSON:
        payload = self._translate(endpoint, body)
        content = await post(self.clients, self.url, orjson.dumps(payload), self.headers, timeout, self.name)
        msg = parse_json_body(content, self.name)
        if msg.get("type") == "error":
            raise ProviderError(f"{self.name} answered 200 with an error", error_class="error_body", body=msg)
        try:
            return from_messages_response(msg)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ProviderError(
                f"{self.name} sent an unexpected message shape: {exc}", error_class="malformed"
            ) from None

    async def stream(self, body: JSON, timeout: float, endpoint: Endpoint = "chat") -> AnthropicChunkStream:
        payload = self._translate(endpoint, body)
        resp = await open_stream(self.clients, self.url, orjson.dumps(payload), self.headers, timeout, self.name)
        stream = AnthropicChunkStream(resp, self.name, StreamTranslator(wants_usage(body)))
        await stream.prime()
        return stream


class AnthropicChunkStream(TranslatedChunkStream):
    """OpenAI chunks translated from a Messages API event stream."""

    def __init__(self, response: aiohttp.ClientResponse, provider: str, translator: StreamTranslator) -> None:
        super().__init__(response, provider)
        self.translator = translator
        self._events = iter_sse(response)

    async def _fill(self) -> bool:
        """Read events until some chunks are pending; False at the end of the stream."""
        try:
            async for _name, data in self._events:
                try:
                    event = orjson.loads(data)
                except orjson.JSONDecodeError as exc:
                    raise ProviderError(
                        f"{self.provider} sent a malformed stream event: {exc}", error_class="malformed"
                    ) from None
                if not isinstance(event, dict):
                    raise ProviderError(
                        f"{self.provider} sent a stream event that is not an object", error_class="malformed"
                    )
                if event.get("type") == "error" or ("error" in event and "type" not in event):
                    err = event.get("error") or {}
                    etype = err.get("type", "") if isinstance(err, dict) else ""
                    error_class = "overloaded" if etype == "overloaded_error" else "error_body"
                    raise ProviderError(
                        f"{self.provider} sent an error in the stream: {err}", error_class=error_class, body=event
                    )
                self._pending.extend(self.translator.feed(event))
                if self._pending:
                    return True
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc, self.provider) from None
        if not self.translator.finished:
            raise ProviderError(f"{self.provider} stream ended before message_stop", error_class="stream_incomplete")
        return False

    def _read_to_end(self) -> bool:
        return self.translator.finished
