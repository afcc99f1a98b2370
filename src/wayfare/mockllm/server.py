"""The mock upstream as a raw ASGI app (no framework: it must be much faster than what it benchmarks).

Endpoints: ``POST /v1/chat/completions`` (and streaming), ``/v1/completions`` (too), ``/v1/embeddings``,
``/v1/messages``
(Anthropic), ``GET /v1/models``, ``/health``. Control: ``POST /_mock/faults`` ``{"model", "kind", "times"}`` or
``{"model", "rate", "kinds", "seed"}`` (a random share of requests), ``DELETE /_mock/faults``, ``GET /_mock/requests``
(the last bodies received with the fault injected, newest last). A request header
``x-mock-fault: <kind>`` injects a fault on that request only; ``x-mock-latency-ms`` overrides the latency.

Azure OpenAI's wire format too: ``POST /openai/deployments/{deployment}/chat/completions`` (``completions``,
``embeddings``) with a required ``api-version`` query parameter and, when ``azure_api_key`` is set, the key in the
``api-key`` header (or ``Authorization: Bearer``); a wrong key answers 401 in Azure's shape, a prompt containing
``[content_filter]`` answers 400 with ``error.code: content_filter``; every Azure answer carries ``x-ms-region``.

Google's Gemini API and Vertex AI (``:generateContent`` / ``:streamGenerateContent``) and a service account's OAuth
``POST /token``: see :mod:`wayfare.mockllm.gemini`.

AWS Bedrock's Converse wire format too (:mod:`wayfare.mockllm.bedrock`): ``POST /model/{modelId}/converse`` and
``/converse-stream``, SigV4 signatures checked when ``bedrock_credentials`` (access key id, secret key) is set.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import orjson

from wayfare.mockllm import bedrock, gemini, replies
from wayfare.mockllm.faults import FAULT_KINDS, FaultPlan, reset_connection

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
JSON = dict[str, Any]

_JSON_HEADERS = [(b"content-type", b"application/json")]
_SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_MODELS = ["mock-strong", "mock-weak"]
CUT_GRACE_S = 0.05  # stream_cut: pause before the reset so the events already sent reach the client
_AZURE_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/(?P<op>chat/completions|completions|embeddings)$")
_AZURE_KIND = {"chat/completions": "chat", "completions": "completion", "embeddings": "embedding"}
AZURE_REGION = b"mock-eastus2"
AZURE_FILTER_TRIGGER = "[content_filter]"


class MockApp:
    """ASGI app of the mock upstream.

    ``latency_ms``: delay before the response starts; ``chunk_delay_ms``: delay between streamed chunks;
    ``retry_after_ms``: what a 429 asks the client to wait; ``hang_s``: how long a ``timeout`` fault stalls.
    """

    def __init__(
        self,
        latency_ms: float = 0.0,
        chunk_delay_ms: float = 0.0,
        retry_after_ms: float = 50.0,
        hang_s: float = 30.0,
        faults: FaultPlan | None = None,
        keep_requests: int = 200,
        azure_api_key: str | None = None,
        gemini_api_key: str | None = None,
        google_public_keys: dict[str, str] | None = None,
        google_token_ttl: int = 3600,
        bedrock_credentials: tuple[str, str] | None = None,
    ) -> None:
        self.azure_api_key = azure_api_key
        self.bedrock_credentials = bedrock_credentials
        self.google = gemini.GoogleMock(gemini_api_key, google_public_keys, google_token_ttl)  # mockllm/gemini.py
        self.latency_ms = latency_ms
        self.chunk_delay_ms = chunk_delay_ms
        self.retry_after_ms = retry_after_ms
        self.hang_s = hang_s
        self.faults = faults or FaultPlan()
        self.requests: deque[JSON] = deque(maxlen=keep_requests)
        self.request_count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        raw = await _read_body(receive)
        if method == "GET":
            if path in ("/health", "/v1/health"):
                await _send_json(send, 200, {"status": "ok"})
            elif path == "/v1/models":
                data = [{"id": m, "object": "model", "created": 0, "owned_by": "mock"} for m in _MODELS]
                await _send_json(send, 200, {"object": "list", "data": data})
            elif path == "/_mock/requests":
                await _send_json(send, 200, {"count": self.request_count, "requests": list(self.requests)})
            else:
                await _send_json(send, 404, _error(f"no route GET {path}", "not_found_error"))
            return
        if path == "/_mock/faults":
            await self._control(method, raw, send)
            return
        if method == "POST" and (bedrock_op := bedrock.match(scope)) is not None:
            await bedrock.serve(self, scope, bedrock_op, headers, raw, send)
            return
        google = gemini.match(path)
        if google is not None or path == gemini.TOKEN_PATH:
            await self._google(google, scope, headers, raw, send)
            return
        kind = {
            "/v1/chat/completions": "chat",
            "/v1/completions": "completion",
            "/v1/embeddings": "embedding",
            "/v1/messages": "anthropic",
        }.get(path)
        azure = _AZURE_PATH.match(path)
        if azure is not None:
            refusal = self._azure_refusal(scope, headers, raw)
            if refusal is not None:
                await _send_json(send, refusal[0], refusal[1], [(b"x-ms-region", AZURE_REGION)])
                return
            kind = _AZURE_KIND[azure.group("op")]
            send = _AddHeader(send, (b"x-ms-region", AZURE_REGION)).send  # every Azure answer names its region
        if method != "POST" or kind is None:
            await _send_json(send, 404, _error(f"no route {method} {path}", "not_found_error"))
            return
        try:
            body = orjson.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as exc:
            await _send_json(send, 400, _error(f"invalid JSON body: {exc}", "invalid_request_error"))
            return
        self.request_count += 1
        entry: JSON = {"path": path, "body": body, "headers": headers}
        self.requests.append(entry)
        latency = float(headers.get("x-mock-latency-ms", self.latency_ms))
        if latency > 0:
            await asyncio.sleep(latency / 1000)
        fault = headers.get("x-mock-fault") or self.faults.take(str(body.get("model", "")))
        entry["fault"] = fault
        anthropic = kind == "anthropic"
        if fault is not None and await self._fault(fault, bool(body.get("stream")), anthropic, send):
            return
        if kind == "chat":
            if body.get("stream"):
                await self._stream([(None, c) for c in replies.chat_chunks(body)], send, done=True, cut=fault)
            else:
                await _send_json(send, 200, replies.chat_completion(body), cut=fault, malformed=fault)
        elif kind == "anthropic":
            if body.get("stream"):
                await self._stream(replies.anthropic_events(body), send, done=False, cut=fault)
            else:
                await _send_json(send, 200, replies.anthropic_message(body), cut=fault, malformed=fault)
        elif kind == "completion":
            if body.get("stream"):
                await self._stream([(None, c) for c in replies.completion_chunks(body)], send, done=True, cut=fault)
            else:
                await _send_json(send, 200, replies.completion(body), cut=fault, malformed=fault)
        else:
            await _send_json(send, 200, replies.embeddings(body), cut=fault, malformed=fault)

    async def _google(
        self, m: re.Match[str] | None, scope: Scope, headers: dict[str, str], raw: bytes, send: Send
    ) -> None:
        """The Gemini API, Vertex AI and the OAuth token endpoint (mockllm/gemini.py)."""
        if m is None:
            await _send_json(send, *self.google.issue_token(raw))
            return
        refusal = self.google.refusal(m, headers, scope.get("query_string", b"").decode("latin-1"))
        if refusal is not None:
            await _send_json(send, *refusal)
            return
        try:
            body, model = orjson.loads(raw), m.group("model")
        except orjson.JSONDecodeError as exc:
            await _send_json(send, 400, gemini.google_error(400, f"Invalid JSON payload received. {exc}"))
            return
        self.request_count += 1
        self.requests.append(entry := {"path": scope["path"], "body": body, "headers": headers})
        fault = headers.get("x-mock-fault") or self.faults.take(model)
        entry["fault"] = fault
        if fault is not None and (reply := gemini.fault_reply(fault)) is not None:
            await _send_json(send, reply[0], reply[1], reply[2])
        elif m.group("op") == "streamGenerateContent":
            await self._stream([(None, e) for e in gemini.stream_events(body, model)], send, done=False, cut=fault)
        else:
            await _send_json(send, 200, gemini.generate(body, model), cut=fault, malformed=fault)

    def _azure_refusal(self, scope: Scope, headers: dict[str, str], raw: bytes) -> tuple[int, JSON] | None:
        """Azure's own refusals: no api-version (404 as Azure answers it), a wrong key (401), the content filter."""
        query = scope.get("query_string", b"").decode("latin-1")
        if "api-version=" not in query:
            return 404, {"error": {"code": "404", "message": "Resource not found"}}
        if self.azure_api_key is not None:
            bearer = headers.get("authorization", "").removeprefix("Bearer ")
            if self.azure_api_key not in (headers.get("api-key"), bearer):
                msg = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
                       "valid key for an active subscription and use a correct regional API endpoint for your "
                       "resource.")  # fmt: skip
                return 401, {"error": {"code": "401", "message": msg}}
        if AZURE_FILTER_TRIGGER.encode() in raw:
            result = {c: {"filtered": c == "violence", "severity": "high" if c == "violence" else "safe"}
                      for c in ("hate", "self_harm", "sexual", "violence")}  # fmt: skip
            return 400, {"error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management "
                "policy. Please modify your prompt and retry.",
                "type": None, "param": "prompt", "code": "content_filter", "status": 400,
                "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": result},
            }}  # fmt: skip
        return None

    async def _control(self, method: str, raw: bytes, send: Send) -> None:
        if method == "DELETE":
            self.faults.clear()
            await _send_json(send, 200, {"cleared": True})
            return
        try:
            spec = orjson.loads(raw)
            if "rate" in spec:
                kinds = [str(k) for k in spec.get("kinds", FAULT_KINDS)]
                self.faults.set_rate(str(spec.get("model", "*")), float(spec["rate"]), kinds, int(spec.get("seed", 0)))
            else:
                self.faults.add(str(spec.get("model", "*")), str(spec["kind"]), int(spec.get("times", 1)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            await _send_json(send, 400, _error(f"bad fault spec: {exc}", "invalid_request_error"))
            return
        await _send_json(send, 200, {"ok": True})

    async def _fault(self, fault: str, stream: bool, anthropic: bool, send: Send) -> bool:
        """Inject a fault that replaces the response; False for faults that corrupt a normal response instead."""
        if fault == "429":
            wait_ms = self.retry_after_ms
            extra = [
                (b"retry-after", str(max(1, math.ceil(wait_ms / 1000))).encode()),
                (b"retry-after-ms", str(int(wait_ms)).encode()),
            ]
            err = _error("Rate limit reached (mock)", "rate_limit_error" if anthropic else "rate_limit_exceeded")
            await _send_json(send, 429, err, extra_headers=extra)
        elif fault in ("500", "503"):
            await _send_json(send, int(fault), _error(f"mock upstream error {fault}", "api_error"))
        elif fault == "529":
            await _send_json(
                send, 529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            )
        elif fault == "reset":
            await reset_connection(send)
        elif fault == "timeout":
            await asyncio.sleep(self.hang_s)
            return False
        elif fault == "error_body" and not stream:
            await _send_json(send, 200, _error("upstream failed while answering (mock)", "server_error"))
        elif fault == "error_body":
            await self._stream([(None, _error("upstream failed mid-answer (mock)", "server_error"))], send, True, None)
        else:
            return False
        return True

    async def _stream(self, events: Sequence[tuple[str | None, JSON]], send: Send, done: bool, cut: str | None) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        delay = self.chunk_delay_ms / 1000
        for i, (name, data) in enumerate(events):
            if cut == "stream_cut" and i == 2:
                # let the client read the events already sent: a RST can discard bytes still unread in its buffer,
                # which would turn "cut mid-stream" into "failed before the first byte"
                await asyncio.sleep(CUT_GRACE_S)
                await reset_connection(send)
                return
            payload = orjson.dumps(data)
            if cut == "malformed" and i == 1:
                payload = payload[: len(payload) // 2]
            event = b"event: " + name.encode() + b"\n" if name else b""
            await send({"type": "http.response.body", "body": event + b"data: " + payload + b"\n\n", "more_body": True})
            if delay > 0:
                await asyncio.sleep(delay)
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n" if done else b"", "more_body": False})


class _AddHeader:
    """``send`` with one more response header; keeps the server's transport reachable for the reset faults."""

    def __init__(self, send: Send, header: tuple[bytes, bytes]) -> None:
        self._send, self._header = send, header
        self.transport = getattr(getattr(send, "__self__", None), "transport", None)

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), self._header]}
        await self._send(message)


def _error(message: str, etype: str) -> JSON:
    return {"error": {"message": message, "type": etype, "param": None, "code": etype}}


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send_json(
    send: Send,
    status: int,
    data: JSON,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
    cut: str | None = None,
    malformed: str | None = None,
) -> None:
    body = orjson.dumps(data)
    if malformed == "malformed":
        body = body[: len(body) // 2]
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode()), *(extra_headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if cut == "stream_cut":
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        await reset_connection(send)
        return
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
