"""Virtual keys: ``wf-...`` secrets shown once, stored as sha256 hashes in the store's ``virtual_keys`` table.

``SqlKeyStore`` works on the store's engine (SQLite by default, PostgreSQL when ``database_url`` says so);
``KeyCache`` keeps lookups in-process for ``ttl`` seconds so the request path rarely touches the database (a revoked
key stops working on other replicas within ``ttl``, and at once on the replica that revoked it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from wayfare.governance.periods import BudgetPeriod
from wayfare.store.record import utcnow
from wayfare.store.tables import virtual_keys

SECRET_PREFIX = "wf-"
INT32_MAX = 2**31 - 1
t = virtual_keys.c


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A fresh key secret: ``wf-`` + 256 random bits (url-safe base64)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class KeySpec(BaseModel):
    """What ``POST /admin/keys`` (and ``wayfare keys create``) accepts; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    models: list[str] | None = None
    """Models and routes this key may call (None: all)."""
    metadata: dict[str, Any] = {}
    """Free-form; ``team``, ``user`` and ``tags`` have meaning (team budgets, spend reports)."""
    expires_at: datetime | None = None
    expires_in_s: float | None = Field(default=None, gt=0)
    max_budget_usd: float | None = Field(default=None, ge=0)
    budget_period: BudgetPeriod | None = None
    """None means ``total`` (never resets)."""
    rpm: int | None = Field(default=None, gt=0, le=INT32_MAX)
    tpm: int | None = Field(default=None, gt=0, le=INT32_MAX)

    @model_validator(mode="after")
    def _check(self) -> KeySpec:
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            self.expires_at = self.expires_at.replace(tzinfo=UTC)
        for name in ("team", "user"):
            value = self.metadata.get(name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"metadata.{name} must be a string")
        tags = self.metadata.get("tags")
        if tags is not None and not (isinstance(tags, list) and all(isinstance(x, str) for x in tags)):
            raise ValueError("metadata.tags must be a list of strings")
        return self

    def column_values(self, fields: set[str] | None = None) -> dict[str, Any]:
        """Column values for the fields given (all when None)."""
        chosen = self.model_fields_set if fields is None else fields
        out: dict[str, Any] = {}
        for name in chosen:
            if name == "metadata":
                out["metadata"] = dict(self.metadata)
                out["team"] = self.metadata.get("team")
                out["user_id"] = self.metadata.get("user")
            elif name == "expires_in_s":
                pass
            else:
                out[name] = getattr(self, name)
        if "expires_in_s" in chosen and self.expires_in_s is not None:
            out["expires_at"] = utcnow() + timedelta(seconds=self.expires_in_s)
        return out


@dataclass(slots=True, kw_only=True)
class VirtualKey:
    """A stored key, without its secret."""

    id: str
    key_hint: str
    name: str | None = None
    team: str | None = None
    user: str | None = None
    models: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None
    max_budget_usd: float | None = None
    budget_period: BudgetPeriod | None = None
    rpm: int | None = None
    tpm: int | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    revoked_at: datetime | None = None

    def status(self, now: datetime | None = None) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or utcnow()):
            return "expired"
        return "active"

    def to_json(self) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return None if d is None else d.isoformat()

        return {
            "id": self.id,
            "key_hint": self.key_hint,
            "name": self.name,
            "models": self.models,
            "metadata": self.metadata,
            "team": self.team,
            "user": self.user,
            "expires_at": iso(self.expires_at),
            "max_budget_usd": self.max_budget_usd,
            "budget_period": self.budget_period,
            "rpm": self.rpm,
            "tpm": self.tpm,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "revoked_at": iso(self.revoked_at),
            "status": self.status(),
        }


def _hint(secret: str) -> str:
    return f"{secret[:5]}...{secret[-4:]}"


def _row_to_key(row: Any) -> VirtualKey:
    return VirtualKey(
        id=row.id,
        key_hint=row.key_hint,
        name=row.name,
        team=row.team,
        user=row.user_id,
        models=list(row.models) if row.models is not None else None,
        metadata=dict(row.metadata or {}),
        expires_at=row.expires_at,
        max_budget_usd=row.max_budget_usd,
        budget_period=row.budget_period,
        rpm=row.rpm,
        tpm=row.tpm,
        created_at=row.created_at,
        updated_at=row.updated_at,
        revoked_at=row.revoked_at,
    )


class SqlKeyStore:
    """Virtual keys in the store's database. Synchronous and thread-safe (call from a worker thread in async code)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(self, spec: KeySpec) -> tuple[str, VirtualKey]:
        """A new key; returns (secret, key). The secret is not stored and cannot be shown again."""
        secret, now = new_secret(), utcnow()
        values = {
            "id": "key_" + secrets.token_hex(8),
            "key_hash": hash_secret(secret),
            "key_hint": _hint(secret),
            "metadata": {},
            "created_at": now,
            "updated_at": now,
            **spec.column_values(set(KeySpec.model_fields)),
        }
        with self.engine.begin() as conn:
            conn.execute(sa.insert(virtual_keys).values(**values))
        key = self.get(str(values["id"]))
        assert key is not None
        return secret, key

    def get(self, key_id: str) -> VirtualKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(virtual_keys).where(t.id == key_id)).one_or_none()
        return None if row is None else _row_to_key(row)

    def list(self, *, include_revoked: bool = True, team: str | None = None) -> list[VirtualKey]:
        stmt = sa.select(virtual_keys).order_by(t.created_at, t.id)
        if not include_revoked:
            stmt = stmt.where(t.revoked_at.is_(None))
        if team is not None:
            stmt = stmt.where(t.team == team)
        with self.engine.connect() as conn:
            return [_row_to_key(r) for r in conn.execute(stmt)]

    def update(self, key_id: str, changes: KeySpec) -> VirtualKey | None:
        """Apply the fields set in ``changes`` (explicit nulls clear limits); None if there is no such key."""
        values = changes.column_values()
        values["updated_at"] = utcnow()
        with self.engine.begin() as conn:
            n = conn.execute(sa.update(virtual_keys).where(t.id == key_id).values(**values)).rowcount
        return self.get(key_id) if n else None

    def revoke(self, key_id: str) -> VirtualKey | None:
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(virtual_keys)
                .where(t.id == key_id, t.revoked_at.is_(None))
                .values(revoked_at=now, updated_at=now)
            )
        return self.get(key_id)

    def rotate(self, key_id: str) -> tuple[str, VirtualKey] | None:
        """A new secret for the same key (same id, limits and spend); the old secret stops working."""
        secret = new_secret()
        with self.engine.begin() as conn:
            n = conn.execute(
                sa.update(virtual_keys)
                .where(t.id == key_id, t.revoked_at.is_(None))
                .values(key_hash=hash_secret(secret), key_hint=_hint(secret), updated_at=utcnow())
            ).rowcount
        key = self.get(key_id) if n else None
        return None if key is None else (secret, key)

    def by_secret(self, secret: str) -> tuple[str, VirtualKey] | None:
        """(stored hash, key) for a presented secret, or None. Callers compare the hash in constant time."""
        digest = hash_secret(secret)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(virtual_keys).where(t.key_hash == digest)).one_or_none()
        return None if row is None else (str(row.key_hash), _row_to_key(row))


class KeyCache:
    """secret hash -> key (or a miss), for ``ttl`` seconds; at most ``max_entries`` (cleared when full)."""

    def __init__(self, ttl: float = 1.0, max_entries: int = 100_000) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: dict[str, tuple[float, VirtualKey | None]] = {}

    def get(self, digest: str) -> tuple[bool, VirtualKey | None]:
        """(hit, key). A hit with key None is a cached miss (unknown secret)."""
        entry = self._entries.get(digest)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, digest: str, key: VirtualKey | None) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (time.monotonic() + self.ttl, key)

    def invalidate(self, key_id: str) -> None:
        """Forget every cached lookup of ``key_id`` (after revoke/update/rotate on this replica)."""
        stale = [d for d, (_, k) in self._entries.items() if k is not None and k.id == key_id]
        for d in stale:
            del self._entries[d]


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
