"""The mock upstream speaking AWS Bedrock Runtime's Converse wire format.

``POST /model/{modelId}/converse`` answers a Converse response, ``/converse-stream`` the same reply as binary event
stream frames (``application/vnd.amazon.eventstream``: prelude, string headers, JSON payload, CRC32s). With
``bedrock_credentials`` set on the mock, each request's SigV4 signature is recomputed with botocore from the request
as received (method, raw path, signed headers, body) and that secret key: an unknown key id or a wrong signature
answers 403 in Bedrock's shape (``{"message": ...}`` and the ``x-amzn-ErrorType`` header). A few of Bedrock's
request rules are checked too (known top-level keys only, alternating roles starting with a user turn, no blank text,
``toolConfig`` present when the history has tool blocks): a violation answers 400 ``ValidationException``.

Replies come from :mod:`replies` (the echo text; a call of the first or forced tool when tools are given, unless the
last turn carries tool results, which are echoed as text). Faults (``x-mock-fault`` or the fault plan, keyed by
modelId): ``429`` ThrottlingException, ``500`` InternalServerException, ``503``/``529`` ServiceUnavailableException,
``error_body`` an exception frame before any event when streaming (else a 500), plus ``reset``, ``timeout``,
``stream_cut`` and ``malformed`` (a bad JSON body, or a frame with a wrong CRC). A prompt containing
``[bedrock_stream_exception]`` streams two events and then a ``throttlingException`` frame.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import struct
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson

from wayfare.mockllm import replies
from wayfare.mockllm.faults import reset_connection

if TYPE_CHECKING:
    from wayfare.mockllm.server import MockApp

JSON = dict[str, Any]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

PATH = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>converse|converse-stream)$")
STREAM_EXCEPTION_TRIGGER = "[bedrock_stream_exception]"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r" ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<signature>[0-9a-f]{64})$"
)
_TOP_KEYS = {"messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig", "additionalModelRequestFields",
             "promptVariables", "additionalModelResponseFieldPaths", "requestMetadata", "performanceConfig",
             "serviceTier", "outputConfig"}  # fmt: skip
_BLOCK_KEYS = {"text", "image", "document", "video", "audio", "toolUse", "toolResult", "guardContent", "cachePoint",
               "reasoningContent", "citationsContent", "searchResult"}  # fmt: skip
_FAULTS = {
    "429": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "500": (500, "InternalServerException", "The server encountered an internal error (mock)."),
    "503": (503, "ServiceUnavailableException", "The service is unavailable, try again later (mock)."),
    "529": (503, "ServiceUnavailableException", "The service is unavailable, try again later (mock)."),
    "error_body": (500, "InternalServerException", "The server encountered an internal error (mock)."),
}
MAX_SKEW_S = 300


def match(scope: MutableMapping[str, Any]) -> tuple[str, bool] | None:
    """``(modelId, streaming)`` for a Bedrock Runtime path (the model id percent-decoded), else None."""
    raw = scope.get("raw_path") or scope["path"].encode()
    m = PATH.match(raw.decode("latin-1"))
    return (unquote(m.group("model")), m.group("op") == "converse-stream") if m else None


class BedrockRefusal(Exception):
    def __init__(self, status: int, etype: str, message: str) -> None:
        super().__init__(message)
        self.status, self.etype, self.message = status, etype, message


def verify_signature(
    scope: MutableMapping[str, Any], headers: dict[str, str], body: bytes, credentials: tuple[str, str]
) -> None:
    """Recompute the request's SigV4 signature with botocore; :class:`BedrockRefusal` (as AWS answers) if wrong."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = headers.get("authorization")
    if not auth:
        raise BedrockRefusal(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    m = _AUTH.match(auth)
    if m is None:
        raise BedrockRefusal(400, "IncompleteSignatureException", f"Authorization header is malformed: {auth[:40]}")
    if m.group("key") != credentials[0]:
        raise BedrockRefusal(
            403, "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if m.group("service") != "bedrock":
        raise BedrockRefusal(
            403, "InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'."
        )
    signed = m.group("signed").split(";")
    amz_date = headers.get("x-amz-date", "")
    if "host" not in signed or "x-amz-date" not in signed or not amz_date.startswith(m.group("date")):
        raise BedrockRefusal(403, "InvalidSignatureException", "host and x-amz-date must be signed, dated as scoped")
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise BedrockRefusal(403, "InvalidSignatureException", f"bad X-Amz-Date {amz_date!r}") from None
    if abs(time.time() - when) > MAX_SKEW_S:
        raise BedrockRefusal(403, "InvalidSignatureException", f"Signature expired: {amz_date} is out of range")
    query = scope.get("query_string", b"").decode("latin-1")
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    url = f"http://{headers.get('host', '')}{raw_path}" + (f"?{query}" if query else "")
    request = AWSRequest(
        method=scope["method"], url=url, data=body, headers={h: headers[h] for h in signed if h in headers}
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(credentials[0], credentials[1]), "bedrock", m.group("region"))
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, m.group("signature")):
        raise BedrockRefusal(
            403,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            "Access Key and signing method. Consult the service documentation for details.",
        )


def validate(body: Any) -> JSON:
    """The request body, or :class:`BedrockRefusal` 400 ``ValidationException`` for what Bedrock refuses."""

    def refuse(message: str) -> BedrockRefusal:
        return BedrockRefusal(400, "ValidationException", message)

    if not isinstance(body, dict):
        raise refuse("The request body must be a JSON object.")
    extra = sorted(set(body) - _TOP_KEYS)
    if extra:
        raise refuse(f"Malformed input request: extraneous key [{extra[0]}] is not permitted, please reformat.")
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not isinstance(messages[0], dict)
        or messages[0].get("role") != "user"
    ):
        raise refuse("A conversation must start with a user message. Try again with a conversation that starts "
                     "with a user message.")  # fmt: skip
    tool_blocks = False
    for i, m in enumerate(messages):
        want = "user" if i % 2 == 0 else "assistant"
        if not isinstance(m, dict) or m.get("role") != want:
            raise refuse("A conversation must alternate between user and assistant roles. Make sure the conversation"
                         " alternates between user and assistant roles and try again.")  # fmt: skip
        content = m.get("content")
        if not isinstance(content, list) or not content:
            raise refuse(f"The content field in the Message object at messages.{i} is empty.")
        for j, block in enumerate(content):
            if not isinstance(block, dict) or len(block) != 1 or next(iter(block)) not in _BLOCK_KEYS:
                raise refuse(f"messages.{i}.content.{j}: a content block has exactly one known member")
            if "text" in block and not str(block["text"]).strip():
                raise refuse(f"The text field in the ContentBlock object at messages.{i}.content.{j} is blank.")
            tool_blocks = tool_blocks or "toolUse" in block or "toolResult" in block
    if tool_blocks and not body.get("toolConfig"):
        raise refuse("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
    return body


def _texts(blocks: list[JSON]) -> list[str]:
    out = []
    for b in blocks:
        if isinstance(b.get("text"), str):
            out.append(b["text"])
        elif isinstance(b.get("toolResult"), dict):
            for c in b["toolResult"].get("content") or []:
                out.append(c["text"] if isinstance(c.get("text"), str) else orjson.dumps(c.get("json")).decode())
    return out


def openai_view(model: str, body: JSON) -> JSON:
    """The request as the OpenAI-format body :mod:`replies` reads."""
    messages = [{"role": m["role"], "content": " ".join(_texts(m["content"]))} for m in body["messages"]]
    view: JSON = {"model": model, "messages": messages}
    if body.get("system"):
        view["system"] = " ".join(_texts(body["system"]))
    tools = (body.get("toolConfig") or {}).get("tools") or []
    answered = any("toolResult" in b for b in body["messages"][-1]["content"])
    if tools and not answered:
        view["tools"] = [{"type": "function", "function": {"name": t["toolSpec"]["name"]}} for t in tools]
        forced = ((body.get("toolConfig") or {}).get("toolChoice") or {}).get("tool")
        if isinstance(forced, dict):
            view["tool_choice"] = {"type": "function", "function": {"name": forced.get("name")}}
    return view


def converse_response(model: str, body: JSON) -> JSON:
    completion = replies.chat_completion(openai_view(model, body))
    choice = completion["choices"][0]
    message = choice["message"]
    content: list[JSON] = [
        {"toolUse": {"toolUseId": c["id"].replace("call_", "tooluse_"), "name": c["function"]["name"],
                     "input": orjson.loads(c["function"]["arguments"])}}
        for c in message.get("tool_calls") or []
    ]  # fmt: skip
    if not content:
        content = [{"text": message["content"]}]
    usage = completion["usage"]
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": "tool_use" if choice["finish_reason"] == "tool_calls" else "end_turn",
        "usage": {"inputTokens": usage["prompt_tokens"], "outputTokens": usage["completion_tokens"],
                  "totalTokens": usage["total_tokens"]},
        "metrics": {"latencyMs": 1},
    }  # fmt: skip


def stream_events(response: JSON) -> list[tuple[str, JSON]]:
    """ConverseStream's events for a Converse response (text in word deltas, tool input in two halves)."""
    events: list[tuple[str, JSON]] = [("messageStart", {"role": "assistant"})]
    for i, block in enumerate(response["output"]["message"]["content"]):
        if "text" in block:
            for j, word in enumerate(block["text"].split(" ")):
                events.append(
                    ("contentBlockDelta", {"contentBlockIndex": i, "delta": {"text": word if j == 0 else " " + word}})
                )
        else:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            events.append(("contentBlockStart", {"contentBlockIndex": i, "start": start}))
            args = orjson.dumps(use["input"]).decode()
            for part in (args[: len(args) // 2], args[len(args) // 2 :]):
                events.append(("contentBlockDelta", {"contentBlockIndex": i, "delta": {"toolUse": {"input": part}}}))
        events.append(("contentBlockStop", {"contentBlockIndex": i}))
    events.append(("messageStop", {"stopReason": response["stopReason"]}))
    events.append(("metadata", {"usage": response["usage"], "metrics": response["metrics"]}))
    return events


def frame(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One event-stream message: prelude (total and headers lengths, CRC32), string headers, payload, CRC32."""
    head = b"".join(
        struct.pack("B", len(n)) + n.encode() + b"\x07" + struct.pack(">H", len(v.encode())) + v.encode()
        for n, v in headers
    )
    prelude = struct.pack(">II", 12 + len(head) + len(payload) + 4, len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event_frame(kind: str, data: JSON) -> bytes:
    payload = orjson.dumps({**data, "p": "abcdefgh"})  # AWS pads events with a "p" field of random length
    return frame([(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")], payload)


def exception_frame(kind: str, message: str) -> bytes:
    headers = [(":exception-type", kind), (":content-type", "application/json"), (":message-type", "exception")]
    return frame(headers, orjson.dumps({"message": message}))


async def _send_error(send: Send, status: int, etype: str, message: str) -> None:
    body = orjson.dumps({"message": message})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-amzn-errortype", f"{etype}:http://internal.amazon.com/coral/com.amazon.bedrock/".encode()),
        (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def serve(
    app: MockApp, scope: MutableMapping[str, Any], op: tuple[str, bool], headers: dict[str, str], raw: bytes, send: Send
) -> None:
    """Answer one Bedrock Runtime request for ``app`` (its settings, fault plan and request log)."""
    model, streaming = op
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        parsed = None
    app.request_count += 1
    entry: JSON = {"path": scope["path"], "body": parsed, "headers": headers}
    app.requests.append(entry)
    try:
        if app.bedrock_credentials is not None:
            verify_signature(scope, headers, raw, app.bedrock_credentials)
        body = validate(parsed)
    except BedrockRefusal as exc:
        await _send_error(send, exc.status, exc.etype, exc.message)
        return
    latency = float(headers.get("x-mock-latency-ms", app.latency_ms))
    if latency > 0:
        await asyncio.sleep(latency / 1000)
    fault = headers.get("x-mock-fault") or app.faults.take(model)
    entry["fault"] = fault
    if fault == "reset":
        await reset_connection(send)
        return
    if fault == "timeout":
        await asyncio.sleep(app.hang_s)
    if fault in _FAULTS and not (fault == "error_body" and streaming):
        await _send_error(send, *_FAULTS[fault])
        return
    response = converse_response(model, body)
    rid = [(b"x-amzn-requestid", str(uuid.uuid4()).encode())]
    if not streaming:
        data = orjson.dumps(response)
        if fault == "malformed":
            data = data[: len(data) // 2]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), *rid]})  # fmt: skip
        if fault == "stream_cut":
            await send({"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True})
            await reset_connection(send)
            return
        await send({"type": "http.response.body", "body": data})
        return
    frames = [event_frame(kind, data) for kind, data in stream_events(response)]
    if fault == "error_body":
        frames = [exception_frame("internalServerException", "The server encountered an internal error (mock).")]
    elif STREAM_EXCEPTION_TRIGGER in raw.decode("utf-8", "replace"):
        frames = [*frames[:2], exception_frame("throttlingException", "Too many tokens, please wait (mock).")]
    elif fault == "malformed":
        frames[0] = frames[0][:-4] + b"\x00\x00\x00\x00"  # a wrong message CRC on the first frame
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/vnd.amazon.eventstream"), *rid]})  # fmt: skip
    delay = app.chunk_delay_ms / 1000
    for i, data in enumerate(frames):
        if fault == "stream_cut" and i == 2:
            await asyncio.sleep(0.05)  # let the client read what was sent before the reset
            await reset_connection(send)
            return
        await send({"type": "http.response.body", "body": data, "more_body": True})
        if delay > 0:
            await asyncio.sleep(delay)
    await send({"type": "http.response.body", "body": b"", "more_body": False})
