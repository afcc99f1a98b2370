"""The gateway's quality runner on a real store: it certifies from the route's labelled shadow pairs, applies the
threshold, keeps the decision across a restart, and two replicas on one PostgreSQL share it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from wayfare.gateway.config import parse_config
from wayfare.gateway.core import Gateway
from wayfare.store.tables import quality_decisions

ROUTE = "auto"


def config(db: str, min_labels: int = 100) -> Any:
    return parse_config(f"""models:
  - {{name: big, base_url: http://127.0.0.1:9/v1, input_price: 10, output_price: 30}}
  - {{name: small, base_url: http://127.0.0.1:9/v1, input_price: 0.5, output_price: 1.5}}
routes:
  - name: {ROUTE}
    router: random
    strong: big
    weak: small
    shadow: {{sample: 0.5}}
    quality: {{quality_target: 0.95, risk: 0.1, min_labels: {min_labels}, recheck_every: 50, period_seconds: 3600}}
database_url: {db}
registry_poll_seconds: 0
""")


async def started(db: str) -> Gateway:
    gw = Gateway(config(db))
    await gw.start()
    assert gw.quality is not None
    await gw.quality.aclose()  # the tests drive check() themselves
    return gw


def test_safe_mode_then_a_certificate_applied_and_kept_across_a_restart(tmp_path: Any, seed: Any) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"

    async def scenario() -> None:
        gw = await started(db)
        assert gw.router.quality[ROUTE].state == "learning" and gw.router.quality[ROUTE].threshold == 0.0
        assert gw.router.resolve(ROUTE)[1] == 0.0  # type: ignore[index]  # safe mode: everything strong
        await asyncio.to_thread(seed, db, 60)
        assert gw.quality is not None
        rq = await gw.quality.check(ROUTE)
        assert rq.state == "learning" and rq.threshold == 0.0 and "60 of 100 labels" in rq.reason
        await asyncio.to_thread(seed, db, 1400, 60, 1)
        rq = await gw.quality.check(ROUTE)
        assert rq.state == "certified" and rq.threshold > 0 and rq.certificate_id is not None
        assert rq.bound is not None and rq.bound >= 0.95
        assert gw.router.resolve(ROUTE)[1] == rq.threshold  # type: ignore[index]
        await gw.aclose()
        again = await started(db)  # a restart applies the stored certificate before any check
        assert again.router.quality[ROUTE] == rq
        await again.aclose()

    asyncio.run(scenario())
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        states = [r.state for r in conn.execute(sa.select(quality_decisions).order_by(quality_decisions.c.id))]
        saving = conn.execute(sa.select(quality_decisions.c.saving).order_by(quality_decisions.c.id.desc())).first()
    engine.dispose()
    assert states[0] == "learning" and states[-1] == "certified"
    assert saving is not None and 0.0 < saving[0]["saving"] < 1.0 and len(saving[0]["saving_ci"]) == 2


def test_backs_off_when_new_labels_show_the_weak_model_failing(tmp_path: Any, seed: Any) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"

    async def scenario() -> None:
        gw = await started(db)
        await asyncio.to_thread(seed, db, 1500)
        assert gw.quality is not None
        first = await gw.quality.check(ROUTE)
        assert first.state == "certified"
        await asyncio.to_thread(seed, db, 1500, 1500, 7, 0.5)  # the traffic changed
        rq = await gw.quality.check(ROUTE)
        assert rq.state in ("backed-off", "certified") and rq.certificate_id != first.certificate_id
        assert rq.threshold < first.threshold  # more cautious
        await gw.aclose()

    asyncio.run(scenario())


@pytest.mark.services
def test_two_replicas_share_one_decision(pg_url: str, seed: Any) -> None:
    async def scenario() -> None:
        a, b = await started(pg_url), await started(pg_url)
        await asyncio.to_thread(seed, pg_url, 1500)
        assert a.quality is not None and b.quality is not None
        ra, rb = await asyncio.gather(a.quality.check(ROUTE), b.quality.check(ROUTE))
        assert ra == rb and ra.state == "certified"
        await a.aclose()
        await b.aclose()

    asyncio.run(scenario())
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        certified = conn.scalar(
            sa.select(sa.func.count()).select_from(quality_decisions).where(quality_decisions.c.state == "certified")
        )
    engine.dispose()
    assert certified == 1  # both replicas computed it; the store kept one row


def test_quality_config_is_validated(tmp_path: Any) -> None:
    from wayfare.gateway.config import ConfigError

    text = config(f"sqlite:///{tmp_path / 'w.db'}").model_dump_json()
    assert "quality_target" in text
    with pytest.raises(ConfigError, match="quality needs evidence"):
        parse_config("""models:
  - {name: big, base_url: http://127.0.0.1:9/v1}
  - {name: small, base_url: http://127.0.0.1:9/v1}
routes:
  - {name: auto, router: random, strong: big, weak: small, quality: {quality_target: 0.9}}
""")
    with pytest.raises(ConfigError, match="must be 'strong' or a threshold"):
        parse_config("""models:
  - {name: big, base_url: http://127.0.0.1:9/v1}
  - {name: small, base_url: http://127.0.0.1:9/v1}
routes:
  - {name: auto, router: random, strong: big, weak: small, shadow: {sample: 0.1}, quality: {safe_mode: 2}}
""")


def test_routes_status_prints_the_stored_decisions(tmp_path: Any, seed: Any) -> None:
    import json

    from typer.testing import CliRunner

    from wayfare.cli import app

    db = f"sqlite:///{tmp_path / 'w.db'}"

    async def scenario() -> str | None:
        gw = await started(db)
        await asyncio.to_thread(seed, db, 1500)
        assert gw.quality is not None
        rq = await gw.quality.check(ROUTE)
        await gw.aclose()
        return rq.certificate_id

    cid = asyncio.run(scenario())
    out = CliRunner().invoke(app, ["routes", "status", "--database-url", db], terminal_width=200)
    assert out.exit_code == 0 and "certified" in out.output and str(cid) in out.output
    data = json.loads(CliRunner().invoke(app, ["routes", "status", "--database-url", db, "--json"]).stdout)
    assert data[ROUTE]["state"] == "certified" and data[ROUTE]["certificate_id"] == cid
    empty = CliRunner().invoke(app, ["routes", "status", "--database-url", f"sqlite:///{tmp_path / 'e.db'}"])
    assert empty.exit_code == 0 and "no quality-target decisions" in empty.output


def test_new_labels_are_fed_incrementally_with_the_same_result_as_a_full_replay(tmp_path: Any, seed: Any) -> None:
    from wayfare.quality.runner import replay
    from wayfare.quality.store import labelled_pairs

    db = f"sqlite:///{tmp_path / 'w.db'}"

    async def scenario() -> None:
        gw = await started(db)
        assert gw.quality is not None
        await asyncio.to_thread(seed, db, 600)
        await gw.quality.check(ROUTE)
        first = gw.quality._replayed[ROUTE][2]
        await asyncio.to_thread(seed, db, 900, 600, 3)
        rq = await gw.quality.check(ROUTE)
        assert gw.quality._replayed[ROUTE][2] is first  # extended, not rebuilt
        cfg = gw.quality.routes[ROUTE]
        full = replay(cfg, ROUTE, labelled_pairs(gw.quality.engine, ROUTE)).decision
        assert (rq.state, rq.certificate_id, rq.labels) == (full.state, full.certificate_id, full.labels)
        assert rq.threshold == full.threshold
        await gw.aclose()

    asyncio.run(scenario())
