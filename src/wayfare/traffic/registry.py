"""The router registry in the store: versioned router artifacts per route, one of them active.

``promote`` stores an artifact folder (``router.json`` + ``arrays.npz``) as a gzipped tar in ``router_versions``
with its sha256 and makes it the route's active version; ``rollback`` re-activates the previous one (or none: the
route then serves the router named in the gateway's config). Gateways poll :func:`active_versions` and
hot-reload (:mod:`wayfare.traffic.reload`). The table (:data:`wayfare.store.tables.router_versions`) is created by
store migration step 4.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from wayfare.store.record import utcnow
from wayfare.store.tables import router_versions

ARTIFACT_FILES = ("router.json", "arrays.npz")


class RegistryError(ValueError):
    """A promotion or rollback that cannot be done (bad artifact, nothing to roll back to)."""


@dataclass(frozen=True)
class Version:
    route: str
    version: int
    sha256: str
    source: str | None
    created_at: datetime
    active: bool
    note: str | None


@contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction that takes the write lock up front (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ignores the
    option): a deferred transaction that reads first cannot upgrade while the gateway's log writer commits."""
    with engine.connect().execution_options(wayfare_immediate=True) as conn, conn.begin():
        yield conn


def pack_artifact(folder: str | Path) -> bytes:
    """A deterministic .tar.gz of an artifact folder's files (same files -> same bytes -> same sha256)."""
    folder = Path(folder)
    from wayfare.routers.artifact import read_meta

    read_meta(folder)  # raises ArtifactError for anything that is not a router artifact
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT, compresslevel=6) as tar:
        tar_mtime = 0
        for name in ARTIFACT_FILES:
            path = folder / name
            if not path.is_file():
                raise RegistryError(f"{folder}: missing {name}")
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), tar_mtime, 0o644
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    # gzip stores a timestamp in its header: zero it so the bytes depend on the files only
    return raw[:4] + b"\x00\x00\x00\x00" + raw[8:]


def unpack_artifact(blob: bytes, sha256: str, cache_dir: str | Path) -> Path:
    """Extract a stored artifact into ``cache_dir/<sha256>`` (checked, atomic, reused when already there)."""
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise RegistryError(f"stored artifact does not match its sha256 {sha256[:12]}...: refusing to load it")
    target = Path(cache_dir) / sha256
    if (target / "router.json").is_file():
        return target
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".unpack-"))
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.name not in ARTIFACT_FILES or not member.isfile():
                raise RegistryError(f"stored artifact {sha256[:12]}... holds an unexpected entry {member.name!r}")
            src = tar.extractfile(member)
            assert src is not None
            (tmp / member.name).write_bytes(src.read())
    try:
        os.rename(tmp, target)
    except OSError:  # another process unpacked it first
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    return target


def _check_loadable(folder: Path) -> None:
    from wayfare.routers.artifact import load_artifact

    try:
        router = load_artifact(folder, load_embedder=False)
    except Exception as exc:
        raise RegistryError(f"{folder} is not a loadable router: {exc}") from None
    if not router.is_pair:
        raise RegistryError(f"{folder}: only pair routers can be promoted to a route (this one has N models)")


def promote(engine: sa.Engine, route: str, folder: str | Path, note: str | None = None) -> Version:
    """Store ``folder`` as the route's next version and make it the active one (one transaction)."""
    folder = Path(folder)
    try:
        blob = pack_artifact(folder)
    except (OSError, ValueError) as exc:
        raise RegistryError(str(exc)) from None
    _check_loadable(folder)
    digest = hashlib.sha256(blob).hexdigest()
    t = router_versions.c
    with writing(engine) as conn:
        last = conn.scalar(sa.select(sa.func.max(t.version)).where(t.route == route)) or 0
        conn.execute(sa.update(router_versions).where(t.route == route).values(active=False))
        conn.execute(
            sa.insert(router_versions).values(
                route=route,
                version=last + 1,
                sha256=digest,
                artifact=blob,
                source=str(folder.resolve()),
                created_at=utcnow(),
                active=True,
                note=note,
            )
        )
    return next(v for v in history(engine, route) if v.version == last + 1)


def rollback(engine: sa.Engine, route: str) -> Version | None:
    """Deactivate the route's active version and activate the one promoted before it; returns that version, or
    None when there is none (the route then serves the router of the gateway's config)."""
    t = router_versions.c
    with writing(engine) as conn:
        current = conn.scalar(sa.select(t.version).where(t.route == route, t.active))
        if current is None:
            raise RegistryError(f"route {route!r} has no promoted router to roll back")
        previous = conn.scalar(sa.select(sa.func.max(t.version)).where(t.route == route, t.version < current))
        conn.execute(sa.update(router_versions).where(t.route == route).values(active=False))
        if previous is not None:
            conn.execute(sa.update(router_versions).where(t.route == route, t.version == previous).values(active=True))
    if previous is None:
        return None
    return next(v for v in history(engine, route) if v.version == previous)


def history(engine: sa.Engine, route: str | None = None) -> list[Version]:
    """All stored versions (of one route), oldest first, without the artifact bytes."""
    t = router_versions.c
    q = sa.select(t.route, t.version, t.sha256, t.source, t.created_at, t.active, t.note).order_by(t.route, t.version)
    if route is not None:
        q = q.where(t.route == route)
    with engine.connect() as conn:
        return [Version(**dict(r._mapping)) for r in conn.execute(q)]


def active_versions(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    """``{route: (version, sha256)}`` of every route with an active version (the gateway's cheap poll)."""
    t = router_versions.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.route, t.version, t.sha256).where(t.active))
        return {r.route: (int(r.version), str(r.sha256)) for r in rows}


def fetch_artifact(engine: sa.Engine, route: str, version: int) -> tuple[bytes, str]:
    """(tar.gz bytes, sha256) of one stored version."""
    t = router_versions.c
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.artifact, t.sha256).where(t.route == route, t.version == version)).first()
    if row is None:
        raise RegistryError(f"route {route!r} has no version {version}")
    return bytes(row.artifact), str(row.sha256)
