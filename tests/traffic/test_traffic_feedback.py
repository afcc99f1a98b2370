"""``POST /v1/feedback`` through a real gateway (SQLite store, mock upstream, the openai SDK for the request)."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai

from wayfare.gateway.reqlog import StoreSink
from wayfare.gateway.testing import GatewayStack
from wayfare.store import open_store
from wayfare.traffic.feedback import feedback_for

CONFIG = """models:
  - name: mock-strong
    base_url: {url}
  - name: mock-weak
    base_url: {url}
"""


def test_feedback_is_stored_with_the_request(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'wayfare.db'}"
    with GatewayStack(CONFIG, sink=StoreSink(db)) as stack:
        client = openai.OpenAI(base_url=stack.base_url, api_key="unused")
        raw = client.chat.completions.with_raw_response.create(
            model="mock-weak", messages=[{"role": "user", "content": "hello"}]
        )
        request_id = raw.headers["x-wayfare-request-id"]
        url = stack.url + "/v1/feedback"
        ok = httpx.post(url, json={"request_id": request_id, "rating": -1, "text": "wrong answer"})
        assert ok.status_code == 201, ok.text
        assert ok.json()["object"] == "feedback" and ok.json()["rating"] == -1
        assert httpx.post(url, json={"request_id": request_id, "score": 0.25}).status_code == 201
        bad = httpx.post(url, json={"request_id": request_id})
        assert bad.status_code == 400 and "at least one of" in bad.json()["error"]["message"]
        bad = httpx.post(url, json={"request_id": request_id, "score": 3})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "score"
        assert httpx.post(url, content=b"{nope").json()["error"]["type"] == "invalid_request_error"
    store = open_store(db)
    try:
        assert store.get(request_id) is not None  # the request itself is in the log
        rows = feedback_for(store.engine, request_id)  # type: ignore[attr-defined]
    finally:
        store.close()
    assert [(r["rating"], r["score"], r["text"]) for r in rows] == [(-1, None, "wrong answer"), (None, 0.25, None)]


def test_feedback_without_a_database_is_503() -> None:
    with GatewayStack(CONFIG) as stack:
        resp = httpx.post(stack.url + "/v1/feedback", json={"request_id": "wf-1", "rating": 1})
    assert resp.status_code == 503 and "database_url" in resp.json()["error"]["message"]
