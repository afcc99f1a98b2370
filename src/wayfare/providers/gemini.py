"""Google's Gemini models behind the OpenAI-format provider interface: the Gemini API (``provider: gemini``, an API
key) and Vertex AI (``provider: vertex``, OAuth tokens from google-auth). Both speak ``generateContent`` /
``streamGenerateContent?alt=sse`` with the same body and response (translated in :mod:`gemini_translate`); they differ
in the URL and the credentials. Only chat completions are translated.

Google's errors (``{"error": {"code", "message", "status", "details"}}``) are re-shaped as OpenAI errors
(``code`` = the ``ErrorInfo`` reason or the status, e.g. ``API_KEY_INVALID``, ``RESOURCE_EXHAUSTED``) so a client
error reaches the OpenAI SDK readably; a ``RetryInfo.retryDelay`` becomes the retry delay.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import orjson

from wayfare.providers.base import JSON, Endpoint
from wayfare.providers.errors import ProviderError
from wayfare.providers.gemini_translate import (
    PromptBlocked,
    StreamTranslator,
    from_generate_content,
    to_generate_content,
)
from wayfare.providers.google_auth import CredentialsError, TokenSource, load_credentials
from wayfare.providers.http import TRANSPORT_ERRORS, HttpClients, open_stream, post, transport_error
from wayfare.providers.openai_compat import parse_json_body
from wayfare.providers.sse import iter_sse
from wayfare.providers.translated import TranslatedChunkStream
from wayfare.providers.translation import translate_chat, wants_usage

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
T = TypeVar("T")
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def google_error(err: ProviderError) -> ProviderError:
    """The same error with Google's body re-shaped as an OpenAI error body."""
    error = (err.body or {}).get("error")
    if not isinstance(error, dict) or "status" not in error:
        return err
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    reason = next((str(d["reason"]) for d in details if d.get("reason")), None)
    code = reason or str(error.get("status"))
    err.body = {"error": {"message": str(error.get("message", "")), "type": "invalid_request_error", "param": None,
                          "code": code, "status": error.get("status")}}  # fmt: skip
    if reason == "API_KEY_INVALID" or error.get("status") in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        err.error_class = "auth"
    if err.retry_after is None:
        delay = next((str(d["retryDelay"]) for d in details if d.get("retryDelay")), "")
        m = _DELAY.match(delay)
        if m is not None:
            err.retry_after = float(m.group(1))
    return err


def _blocked(exc: PromptBlocked) -> ProviderError:
    body = {"error": {"message": f"Gemini: {exc}", "type": "invalid_request_error", "param": "messages",
                      "code": "content_filter"}}  # fmt: skip
    return ProviderError(str(exc), error_class="content_filter", status=400, body=body)


class GoogleProvider:
    """What the Gemini API and Vertex AI share; subclasses give the model URL prefix and the auth headers."""

    kind = "google"

    def __init__(self, clients: HttpClients, models_url: str, name: str) -> None:
        self.clients = clients
        self.models_url = models_url  # ends with ".../models/"
        self.name = name

    async def headers(self) -> dict[str, str]:
        return {"content-type": "application/json"}

    def renew(self, err: ProviderError) -> bool:
        """Whether new credentials may cure ``err`` (then the call is sent once more)."""
        return False

    async def _send(self, send: Callable[[dict[str, str]], Awaitable[T]]) -> T:
        """``send(headers)``; Google's errors re-shaped, one more try when :meth:`renew` says so."""
        for last in (False, True):
            headers = await self.headers()
            try:
                return await send(headers)
            except ProviderError as err:
                if last or not self.renew(err):
                    raise google_error(err) from None
        raise AssertionError("unreachable")

    def url(self, model: str, stream: bool) -> str:
        model = model.removeprefix("models/")
        op = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{self.models_url}{quote(model, safe='')}:{op}"

    def _translate(self, endpoint: Endpoint, body: JSON) -> bytes:
        return orjson.dumps(translate_chat(endpoint, body, self.name, "Gemini", to_generate_content))

    async def request(self, endpoint: Endpoint, body: JSON, timeout: float) -> JSON:
        payload = self._translate(endpoint, body)
        model = str(body.get("model", ""))
        url = self.url(model, False)
        content = await self._send(lambda headers: post(self.clients, url, payload, headers, timeout, self.name))
        resp = parse_json_body(content, self.name)
        try:
            return from_generate_content(resp, model)
        except PromptBlocked as exc:
            raise _blocked(exc) from None
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ProviderError(
                f"{self.name} sent an unexpected response shape: {exc}", error_class="malformed"
            ) from None

    async def stream(self, body: JSON, timeout: float, endpoint: Endpoint = "chat") -> GeminiChunkStream:
        payload = self._translate(endpoint, body)
        model = str(body.get("model", ""))
        url = self.url(model, True)
        resp = await self._send(lambda headers: open_stream(self.clients, url, payload, headers, timeout, self.name))
        translator = StreamTranslator(model, wants_usage(body), int(body.get("n") or 1))
        stream = GeminiChunkStream(resp, self.name, translator)
        await stream.prime()
        return stream


class GeminiProvider(GoogleProvider):
    """The Gemini API: ``{base_url}/v1beta/models/{model}:generateContent`` with the key as ``x-goog-api-key``."""

    kind = "gemini"

    def __init__(self, clients: HttpClients, base_url: str | None, api_key: str | None, name: str) -> None:
        root = (base_url or GEMINI_BASE_URL).rstrip("/")
        if not root.endswith(("/v1beta", "/v1")):
            root += "/v1beta"
        super().__init__(clients, root + "/models/", f"{name} ({root})")
        self._headers = {"content-type": "application/json"}
        if api_key:
            self._headers["x-goog-api-key"] = api_key

    async def headers(self) -> dict[str, str]:
        return self._headers


class VertexProvider(GoogleProvider):
    """Vertex AI: ``{base_url}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}
    :generateContent`` with ``Authorization: Bearer <OAuth token>``. Loading the credentials (a file read, no
    network) happens here, at startup: a missing or invalid file raises :class:`CredentialsError`."""

    kind = "vertex"

    def __init__(
        self,
        clients: HttpClients,
        base_url: str | None,
        name: str,
        *,
        project: str | None,
        location: str,
        credentials: str | None,
    ) -> None:
        creds, default_project = load_credentials(credentials)
        project = project or default_project or getattr(creds, "project_id", None)
        if not project:
            raise CredentialsError("no vertex_project given and the credentials name no project")
        host = "aiplatform.googleapis.com" if location == "global" else f"{location}-aiplatform.googleapis.com"
        root = (base_url or f"https://{host}").rstrip("/")
        if not root.endswith(("/v1", "/v1beta1")):
            root += "/v1"
        path = f"/projects/{quote(project, safe='')}/locations/{quote(location, safe='')}/publishers/google/models/"
        super().__init__(clients, root + path, f"{name} ({root})")
        self.project = project
        self.tokens = TokenSource(creds)

    async def headers(self) -> dict[str, str]:
        from google.auth.exceptions import GoogleAuthError

        try:
            token = await self.tokens.token()
        except (GoogleAuthError, OSError) as exc:
            raise ProviderError(
                f"{self.name}: cannot get a Vertex AI access token: {' '.join(str(exc).split())}", error_class="auth"
            ) from None
        return {"content-type": "application/json", "authorization": f"Bearer {token}"}

    def renew(self, err: ProviderError) -> bool:
        if err.status != 401:
            return False
        self.tokens.invalidate()  # revoked, or expired before its time: try once more with a new token
        return True


class GeminiChunkStream(TranslatedChunkStream):
    """OpenAI chunks translated from a ``streamGenerateContent?alt=sse`` event stream."""

    def __init__(self, response: aiohttp.ClientResponse, provider: str, translator: StreamTranslator) -> None:
        super().__init__(response, provider)
        self.translator = translator
        self._events = iter_sse(response)
        self._ended = False

    def _event(self, data: str) -> list[JSON]:
        try:
            event: Any = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ProviderError(
                f"{self.provider} sent a malformed stream event: {exc}", error_class="malformed"
            ) from None
        if not isinstance(event, dict):
            raise ProviderError(f"{self.provider} sent a stream event that is not an object", error_class="malformed")
        if isinstance(event.get("error"), dict):
            err = ProviderError(
                f"{self.provider} sent an error in the stream: {event['error'].get('message', '')}",
                error_class="error_body",
                body=event,
            )
            raise google_error(err)
        try:
            return self.translator.feed(event)
        except PromptBlocked as exc:
            raise _blocked(exc) from None
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ProviderError(f"{self.provider} sent an unexpected event: {exc}", error_class="malformed") from None

    async def _fill(self) -> bool:
        """Read events until some chunks are pending; False at the end of the stream."""
        if self._ended:
            return False
        try:
            async for _name, data in self._events:
                self._pending.extend(self._event(data))
                if self._pending:
                    return True
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc, self.provider) from None
        if not self.translator.finished:
            raise ProviderError(f"{self.provider} stream ended before a finishReason", error_class="stream_incomplete")
        self._ended = True
        self._pending.extend(self.translator.end())
        return bool(self._pending)

    def _read_to_end(self) -> bool:
        return self._ended
