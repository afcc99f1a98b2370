"""Governance through a real gateway on 127.0.0.1 (SQLite store, in-process counters), called with the real
`openai` SDK and httpx: 401/403/429 bodies, the admin API, budgets, the response cache, spend reports, and no
secret in any log or stored row."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import sqlalchemy as sa

from wayfare.gateway.reqlog import StoreSink
from wayfare.gateway.testing import GatewayStack

MASTER = "mk-test-" + "9" * 24

CONFIG = """
models:
  - {{name: strong, model: up-strong, base_url: {url}, input_price: 10, output_price: 30}}
  - {{name: weak, model: up-weak, base_url: {url}, input_price: 0.5, output_price: 1.5}}
routes:
  - {{name: auto, router: weak, strong: strong, weak: weak}}
retry: {{max_retries: 0, cooldown_failures: 1000}}
database_url: sqlite:///{db}
governance:
  cache: {{routes: [weak], ttl_s: 60}}
  teams: {{tiny-team: {{max_budget_usd: 0.000001, budget_period: daily}}}}
"""


class Env:
    def __init__(self, stack: GatewayStack, db: str) -> None:
        self.stack, self.db = stack, db
        self.admin = httpx.Client(base_url=stack.url + "/admin", headers={"authorization": f"Bearer {MASTER}"})

    def sdk(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.stack.base_url, api_key=key, max_retries=0, timeout=20)

    def create_key(self, **spec: Any) -> dict[str, Any]:
        resp = self.admin.post("/keys", json=spec)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    db = str(tmp_path_factory.mktemp("govgw") / "gw.db")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WAYFARE_MASTER_KEY", MASTER)
        config = CONFIG.replace("{db}", db)
        with GatewayStack(config, sink=StoreSink(f"sqlite:///{db}")) as stack:
            e = Env(stack, db)
            yield e
            e.admin.close()


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_v1_needs_a_key(env: Env) -> None:
    for bad in ("sk-not-a-wayfare-key", "wf-" + "x" * 43):
        with pytest.raises(openai.AuthenticationError) as info:
            env.sdk(bad).chat.completions.create(model="weak", messages=_user("hi"))
        assert info.value.status_code == 401
        assert info.value.body["code"] == "invalid_api_key" and info.value.body["type"] == "invalid_request_error"
        assert bad not in str(info.value.body)
    resp = httpx.post(env.stack.base_url + "/chat/completions", json={"model": "weak", "messages": _user("x")})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        env.sdk("bad").models.list()
    assert env.sdk(MASTER).chat.completions.create(model="strong", messages=_user("hi")).model == "strong"


def test_admin_api_lifecycle(env: Env) -> None:
    anon = httpx.post(env.stack.url + "/admin/keys", json={})
    assert anon.status_code == 401 and anon.json()["error"]["code"] == "invalid_api_key"
    bad = env.admin.post("/keys", json={"rpm": -1, "colour": "red"})
    assert bad.status_code == 400
    assert "rpm" in bad.json()["error"]["message"] and "colour" in bad.json()["error"]["message"]
    assert env.admin.post("/keys", content=b"{nope").status_code == 400

    created = env.create_key(models=["weak", "auto"], metadata={"team": "search", "user": "ana"}, name="t1")
    secret, key_id = created["key"], created["id"]
    assert secret.startswith("wf-") and created["status"] == "active"
    listed = env.admin.get("/keys").json()["data"]
    assert key_id in [k["id"] for k in listed] and all("key" not in k for k in listed)
    assert secret not in env.admin.get("/keys").text

    client = env.sdk(secret)
    assert [m.id for m in client.models.list()] == ["weak", "auto"]
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=_user("routed"))
    assert raw.parse().model == "weak"

    patched = env.admin.patch(f"/keys/{key_id}", json={"models": ["weak"], "rpm": 100})
    assert patched.status_code == 200 and patched.json()["models"] == ["weak"] and patched.json()["rpm"] == 100
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.chat.completions.create(model="auto", messages=_user("no longer"))  # this replica saw the PATCH
    assert info.value.body["code"] == "model_not_allowed" and info.value.body["param"] == "model"

    rotated = env.admin.post(f"/keys/{key_id}/rotate").json()
    assert rotated["id"] == key_id and rotated["key"] != secret
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="weak", messages=_user("old secret"))
    fresh = env.sdk(rotated["key"])
    fresh.chat.completions.create(model="weak", messages=_user("new secret"))

    assert env.admin.delete(f"/keys/{key_id}").json()["status"] == "revoked"
    with pytest.raises(openai.AuthenticationError) as info:
        fresh.chat.completions.create(model="weak", messages=_user("revoked"))
    assert "revoked" in info.value.body["message"]
    assert env.admin.get("/keys/key_missing").status_code == 404
    assert env.admin.post(f"/keys/{key_id}/rotate").status_code == 400
    assert env.admin.get("/nope").json()["error"]["type"] == "invalid_request_error"


def test_rate_limit_429_with_retry_after(env: Env) -> None:
    secret = env.create_key(rpm=3)["key"]
    client = env.sdk(secret)
    for _ in range(3):
        client.chat.completions.create(model="strong", messages=_user("under the limit"))
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="strong", messages=_user("over"))
    assert info.value.body["code"] == "rate_limit_exceeded" and info.value.body["type"] == "rate_limit_error"
    assert 1 <= int(info.value.response.headers["retry-after"]) <= 60


def test_key_and_team_budgets(env: Env) -> None:
    created = env.create_key(max_budget_usd=0.001, budget_period="monthly")
    client = env.sdk(created["key"])
    spent, refused = 0.0, None
    for i in range(200):
        try:
            raw = client.chat.completions.with_raw_response.create(
                model="strong", messages=_user(f"spend {i}"), max_tokens=20
            )
        except openai.RateLimitError as exc:
            refused = exc
            break
        spent += float(raw.headers["x-wayfare-cost-usd"])
    assert refused is not None and refused.body["code"] == "budget_exceeded"
    assert refused.body["type"] == "insufficient_quota" and "retry-after" in refused.response.headers
    assert 0.001 <= spent <= 0.001 + (200 + 20) * 30 / 1e6  # within one reservation of the budget
    info = env.admin.get(f"/keys/{created['id']}").json()["budget"]
    assert info["period"] == "monthly" and info["committed_usd"] == pytest.approx(spent)

    team = env.sdk(env.create_key(metadata={"team": "tiny-team"})["key"])
    team.chat.completions.create(model="weak", messages=_user("one"), max_tokens=5)
    with pytest.raises(openai.RateLimitError) as info2:
        team.chat.completions.create(model="weak", messages=_user("two"), max_tokens=5)
    assert "team tiny-team" in info2.value.body["message"]


def test_response_cache(env: Env) -> None:
    client = env.sdk(MASTER)
    first = client.chat.completions.with_raw_response.create(model="weak", messages=_user("cache me"), temperature=0)
    second = client.chat.completions.with_raw_response.create(model="weak", messages=_user("cache me"), temperature=0)
    assert first.headers["x-wayfare-cache"] == "miss" and second.headers["x-wayfare-cache"] == "hit"
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert float(second.headers["x-wayfare-cost-usd"]) == 0.0 and float(second.headers["x-wayfare-saved-usd"]) > 0
    warm = client.chat.completions.with_raw_response.create(model="weak", messages=_user("cache me"), temperature=0.7)
    assert "x-wayfare-cache" not in warm.headers  # temperature > 0 is not cached
    strong = client.chat.completions.with_raw_response.create(model="strong", messages=_user("x"), temperature=0)
    assert "x-wayfare-cache" not in strong.headers  # route not opted in
    n = len(env.stack.mock.mock.requests)
    chunks = list(client.chat.completions.create(model="weak", messages=_user("cache me"), temperature=0, stream=True))
    assert chunks and len(env.stack.mock.mock.requests) == n + 1  # streaming skips the cache


def test_response_cache_is_per_caller(env: Env) -> None:
    """Another virtual key sending the same request does not get the first caller's cached answer."""
    alice, bob = (env.sdk(env.create_key(metadata={"team": t})["key"]) for t in ("alice", "bob"))
    msgs = _user("is this cached for everyone?")
    assert (
        alice.chat.completions.with_raw_response.create(model="weak", messages=msgs, temperature=0).headers[
            "x-wayfare-cache"
        ]
        == "miss"
    )
    assert (
        alice.chat.completions.with_raw_response.create(model="weak", messages=msgs, temperature=0).headers[
            "x-wayfare-cache"
        ]
        == "hit"
    )
    n = len(env.stack.mock.mock.requests)
    other = bob.chat.completions.with_raw_response.create(model="weak", messages=msgs, temperature=0)
    assert other.headers["x-wayfare-cache"] == "miss" and len(env.stack.mock.mock.requests) == n + 1


def _wait_rows(db: str, at_least: int) -> list[dict[str, Any]]:
    engine = sa.create_engine(f"sqlite:///{db}")
    deadline = time.monotonic() + 10
    try:
        while True:
            with engine.connect() as conn:
                rows = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM request_log"))]
            if len(rows) >= at_least or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)
    finally:
        engine.dispose()


def test_spend_report_and_cache_hit_logged(env: Env) -> None:
    created = env.create_key(metadata={"team": "reports"})
    client = env.sdk(created["key"])
    for i in range(3):
        client.chat.completions.create(model="auto", messages=_user(f"report {i}"))
    rows = _wait_rows(env.db, 1)
    ours = [r for r in rows if r["key_id"] == created["id"]]
    deadline = time.monotonic() + 10
    while len(ours) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
        ours = [r for r in _wait_rows(env.db, 1) if r["key_id"] == created["id"]]
    assert len(ours) == 3 and all(r["team"] == "reports" for r in ours)
    assert any(r["cache_hit"] for r in rows)

    report = env.admin.get("/spend", params={"group_by": "team", "from": "2000-01-01"}).json()
    row = next(r for r in report["data"] if r["group"] == "reports")
    assert row["requests"] == 3 and row["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in ours))
    assert row["savings_usd"] > 0 and 0 < row["savings_pct"] < 100  # weak answered a strong-priced route
    assert "requests in the request log (sqlite)" in report["measured_on"]
    by_key = env.admin.get("/spend", params={"group_by": "key"}).json()
    assert created["id"] in [r["group"] for r in by_key["data"]]
    bad = env.admin.get("/spend", params={"group_by": "colour"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "group_by"
    assert env.admin.get("/spend", params={"from": "yesterday"}).status_code == 400


def test_no_secret_is_written_anywhere(
    env: Env, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = env.create_key(rpm=1)["key"]
    client = env.sdk(secret)
    client.chat.completions.create(model="weak", messages=_user("secret test"))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="weak", messages=_user("secret test 2"))
    with pytest.raises(openai.AuthenticationError):
        env.sdk(secret + "typo").chat.completions.create(model="weak", messages=_user("typo"))
    rows = _wait_rows(env.db, 1)
    out, err = capfd.readouterr()
    written = "\n".join([caplog.text, out, err, repr(rows), Path(env.db).read_bytes().decode("latin-1")])
    for s in (secret, MASTER, secret[3:23]):
        assert s not in written
