"""The mock upstream's Google dialects: the Gemini API, Vertex AI, and the OAuth token endpoint of a service account.

``POST /v1beta/models/{model}:generateContent`` (and ``:streamGenerateContent?alt=sse``) checks the API key
(``x-goog-api-key`` or ``?key=``) against ``gemini_api_key`` when set: none answers 403 ``PERMISSION_DENIED``, a
wrong one 400 ``INVALID_ARGUMENT`` / ``API_KEY_INVALID``, as Google does. ``POST /v1/projects/{project}/locations/
{location}/publishers/google/models/{model}:generateContent`` (and streaming) needs ``Authorization: Bearer`` with a
token this mock issued, else 401 ``UNAUTHENTICATED``. ``POST /token`` is a service account's ``token_uri``: it
verifies the JWT assertion's signature with ``google_public_keys`` (key id -> PEM) and issues a token valid for
``google_token_ttl`` seconds.

Replies come from :mod:`replies` (the request translated to OpenAI's shape): echoed text, a ``functionCall`` when
tools are given, JSON when ``responseMimeType`` is ``application/json``; a request whose last turn is a
``functionResponse`` gets a text reply naming it. A prompt containing ``[blocked]`` is refused with
``promptFeedback.blockReason: SAFETY``. Faults ``429`` / ``500`` / ``503`` answer in Google's error shape.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import orjson

from wayfare.mockllm import replies

JSON = dict[str, Any]
TOKEN_PATH = "/token"
BLOCK_TRIGGER = "[blocked]"
_PATH = re.compile(
    r"^/(?:v1beta/models|v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/google/models)"
    r"/(?P<model>[^/:]+):(?P<op>generateContent|streamGenerateContent)$"
)
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED",
           500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip


def match(path: str) -> re.Match[str] | None:
    return _PATH.match(path)


def google_error(code: int, message: str, details: list[JSON] | None = None) -> JSON:
    error: JSON = {"code": code, "message": message, "status": _STATUS[code]}
    if details:
        error["details"] = details
    return {"error": error}


@dataclass
class GoogleMock:
    """Settings and state of the Google dialects (issued tokens and how many)."""

    api_key: str | None = None
    public_keys: Mapping[str, str] | None = None
    token_ttl: int = 3600
    tokens: dict[str, float] = field(default_factory=dict)  # access token -> expiry (epoch seconds)
    tokens_issued: int = 0

    def refusal(self, m: re.Match[str], headers: Mapping[str, str], query: str) -> tuple[int, JSON] | None:
        if m.group("project") is not None:
            token = headers.get("authorization", "").removeprefix("Bearer ")
            if self.tokens.get(token, 0.0) < time.time():
                msg = ("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                       "or other valid authentication credential.")  # fmt: skip
                return 401, google_error(401, msg)
            return None
        if self.api_key is None:
            return None
        key = headers.get("x-goog-api-key") or (parse_qs(query).get("key") or [""])[0]
        if not key:
            return 403, google_error(403, "Method doesn't allow unregistered callers (callers without established "
                                     "identity). Please use API Key or other form of API consumer identity to call "
                                     "this API.")  # fmt: skip
        if key != self.api_key:
            info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"}}  # fmt: skip
            return 400, google_error(400, "API key not valid. Please pass a valid API key.", [info])
        return None

    def issue_token(self, raw: bytes) -> tuple[int, JSON]:
        """The OAuth 2.0 JWT-bearer grant: verify the assertion, return an access token."""
        form = {k: v[0] for k, v in parse_qs(raw.decode("latin-1")).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or "assertion" not in form:
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}
        if not self.public_keys:
            return 400, {"error": "invalid_grant", "error_description": "no service account keys configured (mock)"}
        from google.auth import jwt

        try:
            claims = jwt.decode(form["assertion"], certs=dict(self.public_keys), verify=True)  # type: ignore[no-untyped-call]
        except ValueError as exc:
            return 400, {"error": "invalid_grant", "error_description": f"Invalid JWT Signature. ({exc})"}
        if "cloud-platform" not in str(claims.get("scope", "")):
            return 400, {"error": "invalid_scope", "error_description": "Invalid OAuth scope or ID token audience."}
        token = "ya29.mock-" + secrets.token_urlsafe(16)
        self.tokens[token] = time.time() + self.token_ttl
        self.tokens_issued += 1
        return 200, {"access_token": token, "expires_in": self.token_ttl, "token_type": "Bearer"}


def fault_reply(fault: str) -> tuple[int, JSON, list[tuple[bytes, bytes]]] | None:
    """Google's answer for the ``429`` / ``500`` / ``503`` faults (None for other kinds)."""
    if fault == "429":
        retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}
        body = google_error(429, "Resource has been exhausted (e.g. check quota). (mock)", [retry])
        return 429, body, []
    if fault in ("500", "503"):
        msg = "An internal error has occurred. (mock)" if fault == "500" else "The model is overloaded. (mock)"
        return int(fault), google_error(int(fault), msg), []
    return None


def _text(parts: list[Any]) -> str:
    return " ".join(str(p.get("text", "")) for p in parts if isinstance(p, dict) and "text" in p)


def to_openai(body: JSON, model: str) -> JSON:
    """The request in OpenAI's shape, for the reply logic of :mod:`replies`."""
    messages = [
        {"role": "assistant" if c.get("role") == "model" else "user", "content": _text(c.get("parts") or [])}
        for c in body.get("contents") or []
    ]
    out: JSON = {"model": model, "messages": messages}
    config = body.get("generationConfig") or {}
    if config.get("responseMimeType") == "application/json":
        out["response_format"] = {"type": "json_object"}
    if config.get("candidateCount"):
        out["n"] = config["candidateCount"]
    decls = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    if decls:
        out["tools"] = [{"type": "function", "function": {"name": d.get("name")}} for d in decls]
        calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        if calling.get("mode") == "NONE":
            out["tool_choice"] = "none"
        elif calling.get("allowedFunctionNames"):
            out["tool_choice"] = {"type": "function", "function": {"name": calling["allowedFunctionNames"][0]}}
    return out


def _usage(prompt: int, completion: int) -> JSON:
    return {"promptTokenCount": prompt, "candidatesTokenCount": completion, "totalTokenCount": prompt + completion}


def generate(body: JSON, model: str) -> JSON:
    """The ``generateContent`` response for ``body``."""
    oai = to_openai(body, model)
    if BLOCK_TRIGGER in replies.last_user_text(oai):
        return {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": _usage(replies.prompt_tokens(oai), 0)}
    contents = body.get("contents") or [{}]
    answers = [p["functionResponse"] for p in contents[-1].get("parts") or [] if "functionResponse" in p]
    completion = replies.chat_completion(oai)
    candidates = []
    for choice in completion["choices"]:
        msg = choice["message"]
        if answers:
            said = ", ".join(f"{a.get('name')} said {orjson.dumps(a.get('response')).decode()}" for a in answers)
            parts: list[JSON] = [{"text": f"mock reply from {model}: {said}"}]
        elif msg.get("tool_calls"):
            fn = msg["tool_calls"][0]["function"]
            parts = [{"functionCall": {"name": fn["name"], "args": orjson.loads(fn["arguments"])},
                      "thoughtSignature": "bW9jay1zaWduYXR1cmU="}]  # fmt: skip
        else:
            parts = [{"text": msg["content"]}]
        candidates.append({"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
                           "index": choice["index"]})  # fmt: skip
    usage = completion["usage"]
    return {
        "candidates": candidates,
        "usageMetadata": _usage(usage["prompt_tokens"], usage["completion_tokens"]),
        "modelVersion": model,
        "responseId": "mock-" + secrets.token_hex(6),
    }


def stream_events(body: JSON, model: str) -> list[JSON]:
    """The ``streamGenerateContent?alt=sse`` events: text word by word, usage on every event, finish on the last."""
    resp = generate(body, model)
    if not resp.get("candidates"):
        return [resp]
    base = {"usageMetadata": resp["usageMetadata"], "modelVersion": model, "responseId": resp["responseId"]}
    events: list[JSON] = []
    for cand in resp["candidates"]:
        parts = cand["content"]["parts"]
        pieces: list[JSON] = []
        if "text" in parts[0]:
            words = parts[0]["text"].split(" ")
            pieces = [{"text": w if i == 0 else " " + w} for i, w in enumerate(words)]
        else:
            pieces = parts
        for i, piece in enumerate(pieces):
            c: JSON = {"content": {"role": "model", "parts": [piece]}, "index": cand["index"]}
            if i == len(pieces) - 1:
                c["finishReason"] = "STOP"
            events.append({**base, "candidates": [c]})
    return events
