"""Every endpoint against every kind of bad credential, with the exact status and OpenAI error body.

A gateway with `WAYFARE_MASTER_KEY` set and virtual keys in SQLite: no key, a malformed header, a wrong key, a
revoked, an expired, an out-of-scope and an over-budget key on each /v1 endpoint; the admin API with a user key.
No answer may echo the secret that was presented.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from wayfare.gateway.reqlog import StoreSink
from wayfare.gateway.testing import GatewayStack

MASTER = "sk-master-" + os.urandom(12).hex()
CONFIG = """
models:
  - {{name: strong, model: up-strong, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: weak, model: up-weak, base_url: {url}, input_price: 0.5, output_price: 1.5}}
routes:
  - {{name: auto, router: random, strong: strong, weak: weak}}
database_url: sqlite:///DB
"""

# (method, path, body) of every /v1 endpoint a key opens
V1 = [
    ("POST", "/v1/chat/completions", {"model": "strong", "messages": [{"role": "user", "content": "hi"}]}),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "strong", "stream": True, "messages": [{"role": "user", "content": "s"}]},
    ),
    ("POST", "/v1/completions", {"model": "strong", "prompt": "hi"}),
    ("POST", "/v1/embeddings", {"model": "strong", "input": "hi"}),
    ("GET", "/v1/models", None),
    ("POST", "/v1/feedback", {"request_id": "wf-x", "rating": 1}),
]
V1_IDS = ["chat", "chat stream", "completions", "embeddings", "models", "feedback"]
ADMIN = [
    ("POST", "/admin/keys", {"models": ["weak"]}),
    ("GET", "/admin/keys", None),
    ("GET", "/admin/keys/KEYID", None),
    ("PATCH", "/admin/keys/KEYID", {"rpm": 5}),
    ("DELETE", "/admin/keys/KEYID", None),
    ("POST", "/admin/keys/KEYID/rotate", None),
    ("GET", "/admin/spend?group_by=key", None),
]


@dataclass
class Keys:
    active: dict[str, Any]
    revoked: dict[str, Any]
    expired: dict[str, Any]
    scoped: dict[str, Any]
    broke: dict[str, Any]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayStack]:
    db: Path = tmp_path_factory.mktemp("auth") / "auth.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WAYFARE_MASTER_KEY", MASTER)
        with GatewayStack(CONFIG.replace("DB", str(db)), sink=StoreSink(f"sqlite:///{db}")) as s:
            yield s


def _admin(stack: GatewayStack, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, stack.url + path, json=body, headers={"authorization": f"Bearer {MASTER}"})


@pytest.fixture(scope="module")
def keys(stack: GatewayStack) -> Keys:
    def create(**spec: Any) -> dict[str, Any]:
        resp = _admin(stack, "POST", "/admin/keys", spec)
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()
        return data

    k = Keys(
        active=create(name="active"),
        revoked=create(name="revoked"),
        expired=create(name="expired", expires_in_s=1),
        scoped=create(name="scoped", models=["weak", "auto"]),
        broke=create(name="broke", max_budget_usd=0.0, budget_period="total"),
    )
    assert _admin(stack, "DELETE", f"/admin/keys/{k.revoked['id']}").status_code == 200
    time.sleep(1.2)  # the expiry passes (and the 1 s key cache forgets the revoked key)
    return k


def _call(stack: GatewayStack, method: str, path: str, body: Any, auth: str | None) -> httpx.Response:
    headers = {} if auth is None else {"authorization": auth}
    return httpx.request(method, stack.url + path, json=body, headers=headers, timeout=30)


def _assert_error(resp: httpx.Response, status: int, etype: str, code: str | None, secret: str | None) -> None:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    err = body["error"]
    assert err["type"] == etype and err["code"] == code, err
    assert isinstance(err["message"], str) and len(err["message"]) > 10
    if secret:
        assert secret not in resp.text, "the presented secret was echoed back"
        assert secret[-12:] not in resp.text


@pytest.mark.parametrize(("method", "path", "body"), V1, ids=V1_IDS)
def test_v1_endpoints_refuse_missing_malformed_and_wrong_keys(
    stack: GatewayStack, keys: Keys, method: str, path: str, body: Any
) -> None:
    _assert_error(_call(stack, method, path, body, None), 401, "invalid_request_error", "invalid_api_key", None)
    wrong = "wf-" + os.urandom(24).hex()
    for auth in (f"Basic {wrong}", "Bearer", f"Bearer {wrong}", wrong):
        _assert_error(_call(stack, method, path, body, auth), 401, "invalid_request_error", "invalid_api_key", wrong)


@pytest.mark.parametrize(("method", "path", "body"), V1, ids=V1_IDS)
def test_v1_endpoints_refuse_revoked_and_expired_keys(
    stack: GatewayStack, keys: Keys, method: str, path: str, body: Any
) -> None:
    for key, state in ((keys.revoked, "revoked"), (keys.expired, "expired")):
        resp = _call(stack, method, path, body, f"Bearer {key['key']}")
        _assert_error(resp, 401, "invalid_request_error", "invalid_api_key", key["key"])
        assert state in resp.json()["error"]["message"]


@pytest.mark.parametrize(("method", "path", "body"), V1[:4], ids=["chat", "chat stream", "completions", "embeddings"])
def test_out_of_scope_and_over_budget_keys(stack: GatewayStack, keys: Keys, method: str, path: str, body: Any) -> None:
    resp = _call(stack, method, path, body, f"Bearer {keys.scoped['key']}")
    _assert_error(resp, 403, "permission_error", "model_not_allowed", keys.scoped["key"])
    assert resp.json()["error"]["param"] == "model"
    # the same key on a model it may use works
    ok = _call(stack, method, path, {**body, "model": "weak"}, f"Bearer {keys.scoped['key']}")
    assert ok.status_code == 200, ok.text
    resp = _call(stack, method, path, body, f"Bearer {keys.broke['key']}")
    _assert_error(resp, 429, "insufficient_quota", "budget_exceeded", keys.broke["key"])


def test_models_list_is_filtered_by_scope_and_keys_that_work_work(stack: GatewayStack, keys: Keys) -> None:
    resp = _call(stack, "GET", "/v1/models", None, f"Bearer {keys.scoped['key']}")
    assert resp.status_code == 200 and {m["id"] for m in resp.json()["data"]} == {"weak", "auto"}
    for key in (keys.active["key"], MASTER):
        for method, path, body in V1[:5]:
            resp = _call(stack, method, path, body, f"Bearer {key}")
            assert resp.status_code == 200, (path, resp.text)
    resp = _call(stack, "POST", "/v1/feedback", {"request_id": "wf-x", "rating": 1}, f"Bearer {keys.active['key']}")
    assert resp.status_code == 201, resp.text


@pytest.mark.parametrize(("method", "path", "body"), ADMIN, ids=[f"{m} {p}" for m, p, _ in ADMIN])
def test_admin_endpoints_refuse_user_keys_and_no_key(
    stack: GatewayStack, keys: Keys, method: str, path: str, body: Any
) -> None:
    path = path.replace("KEYID", keys.active["id"])
    for key in (keys.active["key"], keys.scoped["key"]):
        resp = _call(stack, method, path, body, f"Bearer {key}")
        _assert_error(resp, 401, "invalid_request_error", "invalid_api_key", key)
        assert "master key" in resp.json()["error"]["message"]
    _assert_error(_call(stack, method, path, body, None), 401, "invalid_request_error", "invalid_api_key", None)
    # nothing changed: the active key still works
    assert _call(stack, "GET", "/v1/models", None, f"Bearer {keys.active['key']}").status_code == 200


def test_public_health_endpoints_need_no_key(stack: GatewayStack) -> None:
    for path in ("/health", "/ready", "/openapi.json"):
        assert httpx.get(stack.url + path).status_code == 200
