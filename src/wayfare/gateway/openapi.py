"""A hand-written OpenAPI 3.0 document of the gateway's public endpoints, served at ``GET /openapi.json``.

It describes what the gateway accepts and answers (OpenAI's shapes; unknown request fields are allowed because they
are passed through to the upstream) and the one error body every failure uses. tests/reliability fuzz the gateway
against it with schemathesis. Admin endpoints are documented in docs/GOVERNANCE.md, not here.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wayfare.gateway.config import GatewayConfig

JSON = dict[str, Any]

_ERROR: JSON = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string", "minLength": 1},
                "type": {"type": "string"},
                "param": {"type": "string", "nullable": True},
                "code": {"type": "string", "nullable": True},
            },
        }
    },
}

_TEXT_PART: JSON = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
}
_IMAGE_PART: JSON = {
    "type": "object",
    "required": ["type", "image_url"],
    "properties": {
        "type": {"type": "string", "enum": ["image_url"]},
        "image_url": {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string"}, "detail": {"type": "string", "enum": ["auto", "low", "high"]}},
        },
    },
}
_CONTENT: JSON = {
    "nullable": True,
    "oneOf": [
        {"type": "string"},
        {"type": "array", "maxItems": 8, "items": {"oneOf": [_TEXT_PART, _IMAGE_PART]}},
    ],
}
_MESSAGE: JSON = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": _CONTENT,
        "name": {"type": "string"},
        "tool_call_id": {"type": "string"},
    },
}
_TOOL: JSON = {
    "type": "object",
    "required": ["type", "function"],
    "properties": {
        "type": {"type": "string", "enum": ["function"]},
        "function": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                "description": {"type": "string"},
                "parameters": {"type": "object"},
            },
        },
    },
}
_COMMON: JSON = {
    "stream": {"type": "boolean"},
    "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    "top_p": {"type": "number", "minimum": 0, "maximum": 1},
    "max_tokens": {"type": "integer", "minimum": 1, "maximum": 100000},
    "n": {"type": "integer", "minimum": 1, "maximum": 8},
    "seed": {"type": "integer"},
    "user": {"type": "string"},
}
_USAGE: JSON = {
    "type": "object",
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
    },
}


def _model_property(config: GatewayConfig) -> JSON:
    names = [m.name for m in config.models] + [r.name for r in config.routes]
    return {
        "type": "string",
        "minLength": 1,
        "description": "A configured model or route name (`/v1/models`); also `router-<router>-<threshold>`.",
        "example": names[0],
    }


def _request(config: GatewayConfig, required: list[str], extra: JSON) -> JSON:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": required,
                    "properties": {"model": _model_property(config), **extra},
                    "additionalProperties": True,
                }
            }
        },
    }


def _responses(ok: JSON, stream: bool = False) -> JSON:
    content: JSON = {"application/json": {"schema": ok}}
    if stream:
        content["text/event-stream"] = {"schema": {"type": "string"}}
    err = {
        "description": "OpenAI-style error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    out: JSON = {"200": {"description": "OK", "content": content}}
    for status, what in (
        ("400", "invalid request"),
        ("401", "missing or invalid API key"),
        ("403", "model not allowed for this key"),
        ("404", "unknown model"),
        ("413", "request body too large"),
        ("429", "rate limit or budget exceeded (Retry-After)"),
        ("502", "no upstream answered"),
        ("504", "upstream timed out"),
    ):
        out[status] = {**err, "description": what}
    return out


def openapi_document(config: GatewayConfig) -> JSON:
    """The OpenAPI 3.0.3 document of ``config``'s gateway (model names appear as examples)."""
    chat_ok = {
        "type": "object",
        "required": ["id", "object", "model", "choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string"},
            "model": {"type": "string"},
            "choices": {"type": "array"},
            "usage": _USAGE,
        },
    }
    completions_ok = {**chat_ok}
    embeddings_ok = {
        "type": "object",
        "required": ["object", "data"],
        "properties": {"object": {"type": "string"}, "data": {"type": "array"}, "model": {"type": "string"}},
    }
    models_ok = {
        "type": "object",
        "required": ["object", "data"],
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "data": {
                "type": "array",
                "items": {"type": "object", "required": ["id", "object"], "properties": {"id": {"type": "string"}}},
            },
        },
    }
    chat_extra = {
        "messages": {"type": "array", "minItems": 1, "maxItems": 16, "items": _MESSAGE},
        "tools": {"type": "array", "maxItems": 4, "items": _TOOL},
        "tool_choice": {
            "oneOf": [
                {"type": "string", "enum": ["none", "auto", "required"]},
                {
                    "type": "object",
                    "required": ["type", "function"],
                    "properties": {
                        "type": {"type": "string", "enum": ["function"]},
                        "function": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": {"type": "string"}},
                        },
                    },
                },
            ]
        },
        "response_format": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"type": "string", "enum": ["text", "json_object"]}},
        },
        **_COMMON,
    }
    completions_extra = {
        "prompt": {"oneOf": [{"type": "string"}, {"type": "array", "maxItems": 8, "items": {"type": "string"}}]},
        **_COMMON,
    }
    embeddings_extra = {
        "input": {
            "oneOf": [{"type": "string"}, {"type": "array", "minItems": 1, "maxItems": 16, "items": {"type": "string"}}]
        }
    }
    bearer: list[JSON] = [{"bearer": []}, {}]
    status_ok = {"type": "object"}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Wayfare gateway",
            "version": "1",
            "description": "OpenAI-compatible gateway. Every error: {error: {message, type, param, code}}.",
        },
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/v1/chat/completions": {
                "post": {
                    "operationId": "createChatCompletion",
                    "security": bearer,
                    "requestBody": _request(config, ["model", "messages"], chat_extra),
                    "responses": _responses(chat_ok, stream=True),
                }
            },
            "/v1/completions": {
                "post": {
                    "operationId": "createCompletion",
                    "security": bearer,
                    "requestBody": _request(config, ["model"], completions_extra),
                    "responses": _responses(completions_ok, stream=True),
                }
            },
            "/v1/embeddings": {
                "post": {
                    "operationId": "createEmbedding",
                    "security": bearer,
                    "requestBody": _request(config, ["model", "input"], embeddings_extra),
                    "responses": _responses(embeddings_ok),
                }
            },
            "/v1/models": {
                "get": {"operationId": "listModels", "security": bearer, "responses": _responses(models_ok)}
            },
            "/health": {"get": {"operationId": "health", "responses": {"200": _ok_json(status_ok)}}},
            "/ready": {
                "get": {
                    "operationId": "ready",
                    "responses": {
                        "200": _ok_json(status_ok),
                        "503": {**_ok_json(status_ok), "description": "starting"},
                    },
                }
            },
        },
    }


def _ok_json(schema: JSON) -> JSON:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def openapi_route(config: GatewayConfig) -> Route:
    """``GET /openapi.json`` serving :func:`openapi_document` (built once)."""
    body = orjson.dumps(openapi_document(config))

    async def openapi(request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Route("/openapi.json", openapi, methods=["GET"])
