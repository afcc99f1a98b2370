"""The router registry in the store (migration 4): promote, rollback, history, artifact integrity; and the log
table (labelled pairs + feedback) with its held-out split."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from wayfare.routers.registry import shipped_router_path
from wayfare.store import open_store
from wayfare.store.record import utcnow
from wayfare.store.tables import feedback, shadow_pairs
from wayfare.traffic.logtable import LogTableError, heldout_mask, log_table
from wayfare.traffic.registry import (
    RegistryError,
    active_versions,
    fetch_artifact,
    history,
    pack_artifact,
    promote,
    rollback,
    unpack_artifact,
)


@pytest.fixture()
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    yield store.engine  # type: ignore[attr-defined]
    store.close()


def test_promote_rollback_history(engine: sa.Engine, tmp_path: Path) -> None:
    pair = shipped_router_path("default")
    copy = tmp_path / "copy"
    shutil.copytree(pair, copy)
    assert pack_artifact(pair) == pack_artifact(copy)  # deterministic: same files, same bytes
    with pytest.raises(RegistryError, match="no promoted router"):
        rollback(engine, "auto")
    v1 = promote(engine, "auto", pair, note="first")
    v2 = promote(engine, "auto", copy)
    assert (v1.version, v2.version) == (1, 2) and v1.sha256 == v2.sha256
    assert active_versions(engine) == {"auto": (2, v2.sha256)}
    blob, sha = fetch_artifact(engine, "auto", 2)
    assert hashlib.sha256(blob).hexdigest() == sha
    folder = unpack_artifact(blob, sha, tmp_path / "cache")
    assert (folder / "router.json").read_bytes() == (pair / "router.json").read_bytes()
    assert unpack_artifact(blob, sha, tmp_path / "cache") == folder  # reused
    with pytest.raises(RegistryError, match="does not match its sha256"):
        unpack_artifact(blob[:-1] + b"x", sha, tmp_path / "other")
    back = rollback(engine, "auto")
    assert back is not None and back.version == 1 and active_versions(engine) == {"auto": (1, v1.sha256)}
    assert rollback(engine, "auto") is None and active_versions(engine) == {}
    assert [(v.version, v.active, v.note) for v in history(engine, "auto")] == [(1, False, "first"), (2, False, None)]


def test_promote_refuses_what_cannot_serve_a_route(engine: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no router artifact"):
        promote(engine, "auto", tmp_path)
    with pytest.raises(RegistryError, match="only pair routers"):
        promote(engine, "auto", shipped_router_path("default-n"))
    broken = tmp_path / "broken"
    shutil.copytree(shipped_router_path("default"), broken)
    (broken / "arrays.npz").write_bytes(b"not an npz")
    with pytest.raises(RegistryError, match="not a loadable router"):
        promote(engine, "auto", broken)
    assert history(engine) == []


def _pair(conn: sa.Connection, rid: str, prompt: str, routed: str, s: float | None, w: float | None) -> None:
    conn.execute(
        sa.insert(shadow_pairs).values(
            request_id=rid, time=utcnow(), route="auto", messages=[{"role": "user", "content": prompt}],
            routed_model=routed, routed_answer="a", other_model="weak" if routed == "strong" else "strong",
            other_answer="b", strong_model="strong", weak_model="weak", strong_score=s, weak_score=w,
            label_method=None if s is None else "judge",
        )
    )  # fmt: skip


def test_log_table_applies_feedback_to_the_answer_the_user_saw(engine: sa.Engine) -> None:
    with pytest.raises(LogTableError, match="no labelled shadow pairs"):
        log_table(engine)
    with engine.begin() as conn:
        _pair(conn, "r1", "q1", "weak", 0.5, 0.5)
        _pair(conn, "r2", "q2", "strong", 1.0, 0.0)
        _pair(conn, "r3", "q3", "weak", None, None)  # not labelled: not in the table
        for rid, score, rating in (("r1", None, 1), ("r1", None, -1), ("r2", 0.25, None), ("r9", 0.5, None)):
            conn.execute(sa.insert(feedback).values(request_id=rid, time=utcnow(), score=score, rating=rating))
    table, info = log_table(engine, "auto")
    assert table.prompt_ids == ["r1", "r2"] and table.strong == "strong" and table.weak == "weak"
    # r1: the thumbs-down (the latest usable feedback) sets the weak (routed) answer to 0; r2: the score 0.25
    # replaces the strong (routed) answer's label; r9 has no pair
    assert table.scores.tolist() == [[0.5, 0.0], [0.25, 0.0]]
    assert (info.pairs, info.feedback_applied, info.unused_feedback) == (2, 2, 1)


def test_heldout_split_is_a_function_of_the_prompt() -> None:
    prompts = [f"question {i}" for i in range(4000)]
    mask = heldout_mask(prompts, 0.3)
    assert 0.27 < mask.mean() < 0.33
    assert np.array_equal(mask, heldout_mask(list(prompts), 0.3))
    assert heldout_mask(["question 7"] * 3, 0.3).tolist() == [bool(mask[7])] * 3
    assert not heldout_mask(prompts, 0.0).any()
    with pytest.raises(ValueError, match="holdout"):
        heldout_mask(prompts, 1.0)
