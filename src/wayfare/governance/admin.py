"""The admin API, mounted by the gateway under ``/admin`` and guarded by ``WAYFARE_MASTER_KEY``:

    POST   /admin/keys                 create (the secret is in this answer only)
    GET    /admin/keys                 list (?include_revoked=false to hide revoked keys)
    GET    /admin/keys/{id}            one key, with its budget use in the current period
    PATCH  /admin/keys/{id}            change fields (null clears a limit)
    DELETE /admin/keys/{id}            revoke
    POST   /admin/keys/{id}/rotate     new secret, same key
    GET    /admin/spend?group_by=key|team|model|route&from=&to=

Every error is an OpenAI-style JSON error body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from wayfare.governance.errors import GovernanceError, bad_request, not_found, unauthorized
from wayfare.governance.keys import KeySpec, SqlKeyStore, VirtualKey
from wayfare.governance.service import Governance
from wayfare.governance.spend import parse_group_by, parse_time, spend_report

Handler = Callable[[Request], Awaitable[Response]]


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


async def _spec(request: Request) -> KeySpec:
    raw = await request.body()
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise bad_request("request body must be a JSON object")
    try:
        return KeySpec.model_validate(data)
    except ValidationError as exc:
        raise bad_request(_validation_message(exc)) from None


def admin_routes(gov: Governance | None) -> list[BaseRoute]:
    """The routes to mount under ``/admin``. With no master key configured they answer 403."""

    def guarded(fn: Callable[[Request, Governance], Awaitable[Response]]) -> Handler:
        async def handler(request: Request) -> Response:
            try:
                if gov is None or gov.master_key is None:
                    raise GovernanceError(
                        403, "permission_error", "The admin API is disabled: set WAYFARE_MASTER_KEY to enable it."
                    )
                if not gov.is_master(request.headers):
                    raise unauthorized("The admin API needs the master key: 'Authorization: Bearer <master key>'.")
                return await fn(request, gov)
            except GovernanceError as exc:
                return exc.response()

        return handler

    def store_of(g: Governance) -> SqlKeyStore:
        if g.keys is None:
            raise GovernanceError(503, "server_error", "Virtual keys need a database: set database_url.")
        return g.keys

    async def key_or_404(g: Governance, key_id: str) -> VirtualKey:
        key = await asyncio.to_thread(store_of(g).get, key_id)
        if key is None:
            raise not_found(f"No key with id {key_id!r}.")
        return key

    async def create(request: Request, g: Governance) -> Response:
        spec = await _spec(request)
        secret, key = await asyncio.to_thread(store_of(g).create, spec)
        return _json({"key": secret, **key.to_json()})

    async def list_keys(request: Request, g: Governance) -> Response:
        include = request.query_params.get("include_revoked", "true").lower() not in ("false", "0", "no")
        keys = await asyncio.to_thread(store_of(g).list, include_revoked=include)
        return _json({"object": "list", "data": [k.to_json() for k in keys]})

    async def get_key(request: Request, g: Governance) -> Response:
        key = await key_or_404(g, request.path_params["key_id"])
        body = key.to_json()
        budget = None
        for scope in g.budget_scopes_for_key(key):
            budget = {"period": scope.period, "limit_usd": scope.limit_usd,
                      "committed_usd": await g.ledger.committed(scope)}  # fmt: skip
        body["budget"] = budget
        return _json(body)

    async def patch_key(request: Request, g: Governance) -> Response:
        spec = await _spec(request)
        key = await asyncio.to_thread(store_of(g).update, request.path_params["key_id"], spec)
        if key is None:
            raise not_found(f"No key with id {request.path_params['key_id']!r}.")
        g.key_cache.invalidate(key.id)
        return _json(key.to_json())

    async def revoke(request: Request, g: Governance) -> Response:
        key = await asyncio.to_thread(store_of(g).revoke, request.path_params["key_id"])
        if key is None:
            raise not_found(f"No key with id {request.path_params['key_id']!r}.")
        g.key_cache.invalidate(key.id)
        return _json(key.to_json())

    async def rotate(request: Request, g: Governance) -> Response:
        key_id = request.path_params["key_id"]
        found = await asyncio.to_thread(store_of(g).rotate, key_id)
        if found is None:
            await key_or_404(g, key_id)
            raise bad_request(f"Key {key_id!r} is revoked and cannot be rotated.")
        g.key_cache.invalidate(key_id)
        secret, key = found
        return _json({"key": secret, **key.to_json()})

    async def spend(request: Request, g: Governance) -> Response:
        q = request.query_params
        group_by = parse_group_by(q.get("group_by"))
        since, until = parse_time(q.get("from"), "from"), parse_time(q.get("to"), "to")
        if g.log_store is None:
            raise GovernanceError(503, "server_error", "Spend reports need the request log: set database_url.")
        report = await asyncio.to_thread(spend_report, g.log_store, group_by, since, until)
        return _json(report)

    return [
        Route("/keys", guarded(create), methods=["POST"]),
        Route("/keys", guarded(list_keys), methods=["GET"]),
        Route("/keys/{key_id}", guarded(get_key), methods=["GET"]),
        Route("/keys/{key_id}", guarded(patch_key), methods=["PATCH"]),
        Route("/keys/{key_id}", guarded(revoke), methods=["DELETE"]),
        Route("/keys/{key_id}/rotate", guarded(rotate), methods=["POST"]),
        Route("/spend", guarded(spend), methods=["GET"]),
    ]
