"""AWS Bedrock's Converse and ConverseStream APIs behind the OpenAI-format provider interface.

Requests go to ``{base_url}/model/{modelId}/converse`` (``/converse-stream`` when streaming), ``base_url``
defaulting to ``https://bedrock-runtime.{region}.amazonaws.com``, signed with SigV4 (:mod:`bedrock_auth`). Bodies
are translated both ways (:mod:`bedrock_translate`); the stream is AWS's binary event stream
(``application/vnd.amazon.eventstream``), decoded with botocore's parser. Errors keep Bedrock's exception name
(``x-amzn-ErrorType``): ``ThrottlingException`` (429) is retried, ``AccessDeniedException`` (403) falls back,
``ValidationException`` (400) goes back to the client; an exception event in the stream raises too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from wayfare.providers.base import JSON, Endpoint
from wayfare.providers.bedrock_auth import BedrockSetupError, SigV4Signer, make_signer
from wayfare.providers.bedrock_translate import (
    StreamTranslator,
    from_converse_response,
    to_converse_request,
)
from wayfare.providers.errors import ProviderError, from_status
from wayfare.providers.http import TRANSPORT_ERRORS, HttpClients, open_stream, post, transport_error
from wayfare.providers.openai_compat import parse_json_body
from wayfare.providers.translated import TranslatedChunkStream
from wayfare.providers.translation import translate_chat, wants_usage

__all__ = ["BedrockChunkStream", "BedrockProvider", "BedrockSetupError"]

_CLASS_BY_TYPE = {
    "ThrottlingException": "rate_limited",
    "ModelNotReadyException": "model_not_ready",
    "ModelTimeoutException": "timeout",
    "ServiceUnavailableException": "overloaded",
    "InternalServerException": "server_error",
    "ModelErrorException": "model_error",
    "ModelStreamErrorException": "model_error",
    "ValidationException": "client_error",
    "AccessDeniedException": "auth",
    "UnrecognizedClientException": "auth",
    "InvalidSignatureException": "auth",
    "ResourceNotFoundException": "not_found",
}
_STREAM_STATUS = {
    "throttlingException": 429,
    "validationException": 400,
    "serviceUnavailableException": 503,
    "internalServerException": 500,
}
"""HTTP statuses of the exceptions ConverseStream can send mid-stream (``modelStreamErrorException``, 424, has none
here: AWS says to retry it, and 424 would send it to the client as its own fault)."""


def bedrock_error(status: int, content: bytes, headers: Mapping[str, str], provider: str) -> ProviderError:
    """The error for a non-2xx Bedrock answer, named after its exception (``x-amzn-ErrorType`` or ``__type``)."""
    base = from_status(status, content, headers, provider)
    body = base.body or {}
    etype = str(headers.get("x-amzn-ErrorType") or body.get("__type") or "").split(":")[0].rsplit("#")[-1]
    message = body.get("message") or body.get("Message") or content[:200].decode("utf-8", "replace")
    return ProviderError(
        f"{provider} answered HTTP {status} {etype or 'error'}: {message}",
        error_class=_CLASS_BY_TYPE.get(etype, base.error_class),
        status=status,
        retry_after=base.retry_after,
        body=base.body,
    )


class BedrockProvider:
    """Adapter for Bedrock Runtime in one region; only chat completions are translated."""

    kind = "bedrock"

    def __init__(self, clients: HttpClients, signer: SigV4Signer, base_url: str | None = None, name: str = "") -> None:
        self.clients = clients
        self.signer = signer
        self.base_url = (base_url or f"https://bedrock-runtime.{signer.region}.amazonaws.com").rstrip("/")
        self.name = name or self.base_url
        self._content_type = {"content-type": "application/json"}

    @classmethod
    def create(cls, clients: HttpClients, name: str, base_url: str | None = None, **aws: str | None) -> BedrockProvider:
        """Resolve credentials and region now (``aws``: :func:`make_signer`'s settings); raises
        :class:`BedrockSetupError` when there are none."""
        signer = make_signer(**aws)
        provider = cls(clients, signer, base_url)
        provider.name = f"{name} ({provider.base_url})" if name else provider.base_url
        return provider

    def url(self, model: str, stream: bool) -> str:
        """The operation URL, the model id percent-encoded as one path segment (ids contain ``:``, ARNs ``/``)."""
        return f"{self.base_url}/model/{quote(model, safe='')}/{'converse-stream' if stream else 'converse'}"

    def _translate(self, endpoint: Endpoint, body: JSON) -> bytes:
        return orjson.dumps(translate_chat(endpoint, body, self.name, "Bedrock", to_converse_request))

    async def _signed(self, model: str, stream: bool, payload: bytes) -> tuple[URL, dict[str, str]]:
        """The operation URL (sent exactly as signed: yarl would otherwise turn %3A back into ':') and its headers."""
        url = self.url(model, stream)
        return URL(url, encoded=True), await self.signer.headers(url, payload, self._content_type)

    async def request(self, endpoint: Endpoint, body: JSON, timeout: float) -> JSON:
        payload = self._translate(endpoint, body)
        model = str(body.get("model", ""))
        url, headers = await self._signed(model, False, payload)
        content = await post(self.clients, url, payload, headers, timeout, self.name, error=bedrock_error)
        data = parse_json_body(content, self.name)
        try:
            return from_converse_response(data, model)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ProviderError(
                f"{self.name} sent an unexpected Converse shape: {exc}", error_class="malformed"
            ) from None

    async def stream(self, body: JSON, timeout: float, endpoint: Endpoint = "chat") -> BedrockChunkStream:
        payload = self._translate(endpoint, body)
        model = str(body.get("model", ""))
        url, headers = await self._signed(model, True, payload)
        resp = await open_stream(self.clients, url, payload, headers, timeout, self.name, error=bedrock_error)
        stream = BedrockChunkStream(resp, self.name, StreamTranslator(model, wants_usage(body)))
        await stream.prime()
        return stream


class BedrockChunkStream(TranslatedChunkStream):
    """OpenAI chunks translated from a ConverseStream event stream (frames decoded by botocore's parser)."""

    def __init__(self, response: aiohttp.ClientResponse, provider: str, translator: StreamTranslator) -> None:
        from botocore.eventstream import EventStreamBuffer, ParserError

        super().__init__(response, provider)
        self.translator = translator
        self._buffer = EventStreamBuffer()
        self._parser_error = ParserError
        self._eof = False

    def _event(self, headers: Mapping[str, Any], payload: bytes) -> list[JSON]:
        mtype = headers.get(":message-type")
        try:
            data = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError as exc:
            raise ProviderError(
                f"{self.provider} sent a malformed stream event: {exc}", error_class="malformed"
            ) from None
        if not isinstance(data, dict):
            raise ProviderError(f"{self.provider} sent a stream event that is not an object", error_class="malformed")
        if mtype == "event":
            return self.translator.feed(str(headers.get(":event-type", "")), data)
        if mtype == "exception":
            etype = str(headers.get(":exception-type", "exception"))
            name = etype[:1].upper() + etype[1:]
            raise ProviderError(
                f"{self.provider} sent {name} in the stream: {data.get('message') or data.get('Message') or ''}",
                error_class=_CLASS_BY_TYPE.get(name, "error_body"),
                status=_STREAM_STATUS.get(etype),
                body=data,
            )
        code, message = headers.get(":error-code", "error"), headers.get(":error-message", "")
        raise ProviderError(f"{self.provider} sent a stream error {code}: {message}", error_class="error_body")

    async def _fill(self) -> bool:
        """Read frames until some chunks are pending; False at the end of the stream."""
        try:
            while True:
                for message in self._buffer:  # one frame at a time: the rest stays buffered for the next call
                    self._pending.extend(self._event(message.headers, message.payload))
                    if self._pending:
                        return True
                data = await self.response.content.readany()
                if not data:
                    self._eof = True
                    break
                self._buffer.add_data(data)
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc, self.provider) from None
        except self._parser_error as exc:
            raise ProviderError(
                f"{self.provider} sent a malformed event-stream frame: {type(exc).__name__}: {exc}",
                error_class="malformed",
            ) from None
        if not self.translator.stopped:
            raise ProviderError(f"{self.provider} stream ended before messageStop", error_class="stream_incomplete")
        return False

    def _read_to_end(self) -> bool:
        return self._eof
