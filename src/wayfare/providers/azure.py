"""Azure OpenAI: the OpenAI wire format on a deployment URL.

Requests go to ``{base_url}/openai/deployments/{deployment}/{chat/completions|completions|embeddings}
?api-version={api_version}`` (``base_url`` is the resource endpoint, ``https://<resource>.openai.azure.com``), with
the key in the ``api-key`` header, or, with ``auth: bearer``, a Microsoft Entra ID token as ``Authorization: Bearer``.
Bodies and responses (streams too) are OpenAI's, so everything else is :class:`OpenAIProvider`'s. A prompt Azure's
content filter refuses answers 400 with ``error.code: content_filter`` (and ``innererror.code:
ResponsibleAIPolicyViolation``): it is the request's fault, so it goes back to the client as Azure sent it, logged as
``content_filter``; a completion the filter cut answers 200 with ``finish_reason: content_filter`` and passes through.
The region that answered (Azure's ``x-ms-region`` response header, errors too) is surfaced through
:data:`~wayfare.providers.base.UPSTREAM_HEADERS`: the gateway passes it on to the client and logs it.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import orjson

from wayfare.providers.base import JSON, Endpoint
from wayfare.providers.errors import ProviderError
from wayfare.providers.http import HttpClients, open_stream, post
from wayfare.providers.openai_compat import OpenAIChunkStream, OpenAIProvider, parse_json_body

_PATHS: dict[str, str] = {"chat": "chat/completions", "completions": "completions", "embeddings": "embeddings"}
SURFACED = ("x-ms-region",)


def content_filtered(err: ProviderError) -> ProviderError:
    """The same error, classified ``content_filter`` when Azure's filter refused the prompt."""
    error = (err.body or {}).get("error")
    if err.status == 400 and isinstance(error, dict) and error.get("code") == "content_filter":
        err.error_class = "content_filter"
    return err


class AzureProvider(OpenAIProvider):
    """Adapter for one Azure OpenAI deployment."""

    kind = "azure"

    def __init__(
        self,
        clients: HttpClients,
        base_url: str,
        api_key: str | None = None,
        name: str = "",
        *,
        deployment: str,
        api_version: str,
        auth: str = "api-key",
    ) -> None:
        super().__init__(clients, base_url, None, name)
        self.deployment = deployment
        self.api_version = api_version
        if api_key:
            if auth == "bearer":
                self.headers["authorization"] = f"Bearer {api_key}"
            else:
                self.headers["api-key"] = api_key
        self._query = urlencode({"api-version": api_version})

    def url(self, endpoint: Endpoint) -> str:
        return f"{self.base_url}/openai/deployments/{quote(self.deployment, safe='')}/{_PATHS[endpoint]}?{self._query}"

    async def request(self, endpoint: Endpoint, body: JSON, timeout: float) -> JSON:
        try:
            content = await post(self.clients, self.url(endpoint), orjson.dumps(body), self.headers, timeout, self.name,
                                 surface=SURFACED)  # fmt: skip
        except ProviderError as err:
            raise content_filtered(err) from None
        return parse_json_body(content, self.name)

    async def stream(self, body: JSON, timeout: float, endpoint: Endpoint = "chat") -> OpenAIChunkStream:
        try:
            resp = await open_stream(
                self.clients, self.url(endpoint), orjson.dumps(body), self.headers, timeout, self.name, SURFACED
            )
        except ProviderError as err:
            raise content_filtered(err) from None
        stream = OpenAIChunkStream(resp, self.name)
        await stream.prime()
        return stream
