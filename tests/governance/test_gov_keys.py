"""Virtual keys in the real store (SQLite file and PostgreSQL schema): secrets shown once and stored hashed."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from wayfare.governance.keys import KeyCache, KeySpec, SqlKeyStore, hash_secret
from wayfare.store import open_store
from wayfare.store.migrations import LATEST_VERSION
from wayfare.store.record import utcnow
from wayfare.store.tables import virtual_keys


@pytest.fixture
def keys(database_url: str):  # type: ignore[no-untyped-def]
    store = open_store(database_url)
    yield SqlKeyStore(store.engine)  # type: ignore[attr-defined]
    store.close()


def test_create_stores_only_the_hash(keys: SqlKeyStore) -> None:
    spec = KeySpec(models=["weak"], max_budget_usd=5.0, budget_period="monthly", rpm=60, tpm=100_000,
                   metadata={"team": "search", "user": "ana", "tags": ["prod"]}, name="ci")  # fmt: skip
    secret, key = keys.create(spec)
    assert secret.startswith("wf-") and len(secret) > 40
    assert key.team == "search" and key.user == "ana" and key.models == ["weak"] and key.rpm == 60
    assert key.budget_period == "monthly" and key.max_budget_usd == 5.0 and key.status() == "active"
    assert secret not in str(key.to_json()) and key.key_hint.endswith(secret[-4:])
    with keys.engine.connect() as conn:
        rows = [tuple(str(v) for v in r) for r in conn.execute(sa.select(virtual_keys))]
    assert rows and all(secret not in v for r in rows for v in r)
    assert any(hash_secret(secret) in r for r in rows)
    found = keys.by_secret(secret)
    assert found is not None and found[1].id == key.id
    assert keys.by_secret(secret + "x") is None
    assert LATEST_VERSION >= 2


def test_update_revoke_rotate_list(keys: SqlKeyStore) -> None:
    secret, key = keys.create(KeySpec(rpm=10, metadata={"team": "a"}))
    other_secret, other = keys.create(KeySpec(metadata={"team": "b"}))
    updated = keys.update(key.id, KeySpec.model_validate({"rpm": None, "tpm": 500, "models": ["x"]}))
    assert updated is not None and updated.rpm is None and updated.tpm == 500 and updated.models == ["x"]
    assert updated.team == "a"  # metadata untouched when not given
    assert keys.update("key_nope", KeySpec(rpm=1)) is None

    rotated = keys.rotate(key.id)
    assert rotated is not None
    new_secret, same = rotated
    assert same.id == key.id and new_secret != secret
    assert keys.by_secret(secret) is None
    found = keys.by_secret(new_secret)
    assert found is not None and found[1].id == key.id

    revoked = keys.revoke(other.id)
    assert revoked is not None and revoked.status() == "revoked"
    assert keys.rotate(other.id) is None
    assert {k.id for k in keys.list()} == {key.id, other.id}
    assert [k.id for k in keys.list(include_revoked=False)] == [key.id]
    assert [k.id for k in keys.list(team="b")] == [other.id]
    found = keys.by_secret(other_secret)
    assert found is not None and found[1].status() == "revoked"


def test_expiry(keys: SqlKeyStore) -> None:
    _, key = keys.create(KeySpec(expires_at=utcnow() - timedelta(seconds=1)))
    assert key.status() == "expired"
    _, later = keys.create(KeySpec(expires_in_s=3600))
    assert later.status() == "active" and later.expires_at is not None


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="budget_period"):
        KeySpec.model_validate({"max_budget_usd": 1, "budget_period": "hourly"})
    with pytest.raises(ValueError, match="extra"):
        KeySpec.model_validate({"rpn": 5})
    with pytest.raises(ValueError, match="greater than 0"):
        KeySpec.model_validate({"rpm": 0})
    with pytest.raises(ValueError, match="less than or equal"):
        KeySpec.model_validate({"tpm": 10**12})
    with pytest.raises(ValueError, match=r"metadata\.team"):
        KeySpec.model_validate({"metadata": {"team": 3}})


def test_key_cache_ttl_and_invalidate() -> None:
    from wayfare.governance.keys import VirtualKey

    cache = KeyCache(ttl=0.2)
    key = VirtualKey(id="key_1", key_hint="wf-ab...cd")
    cache.put("h1", key)
    cache.put("h2", None)
    assert cache.get("h1") == (True, key) and cache.get("h2") == (True, None)
    cache.invalidate("key_1")
    assert cache.get("h1") == (False, None)
    time.sleep(0.25)
    assert cache.get("h2") == (False, None)
