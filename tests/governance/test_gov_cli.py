"""`wayfare keys create|list|revoke` and `wayfare spend` through the real `wayfare` CLI app on a SQLite file (one
subprocess checks the installed entry point; the rest run in-process with typer's runner, which is much faster)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from wayfare.cli import app
from wayfare.store import RequestRecord, open_store


def _wayfare(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_entry_point_lists_the_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "wayfare.cli", "keys", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0 and all(c in out.stdout for c in ("create", "list", "revoke"))


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.db"
    made = _wayfare("keys", "create", "--database-url", db, "--team", "ml", "-m", "weak", "--rpm", "5",
                    "--max-budget-usd", "2.5", "--budget-period", "weekly", "--json")  # fmt: skip
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    assert key["key"].startswith("wf-") and key["team"] == "ml" and key["budget_period"] == "weekly"

    listed = _wayfare("keys", "list", "--database-url", db, "--json")
    assert listed.exit_code == 0 and key["key"] not in listed.stdout
    assert [k["id"] for k in json.loads(listed.stdout)] == [key["id"]]
    table = _wayfare("keys", "list", "--database-url", db)
    assert key["id"] in table.stdout and "active" in table.stdout

    revoked = _wayfare("keys", "revoke", key["id"], "--database-url", db)
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    missing = _wayfare("keys", "revoke", "key_nope", "--database-url", db)
    assert missing.exit_code == 1 and missing.stderr.strip() == "error: no key with id 'key_nope'"
    bad = _wayfare("keys", "create", "--database-url", db, "--budget-period", "hourly")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: budget_period")
    bad_url = _wayfare("keys", "list", "--database-url", "mysql://x/y")
    assert bad_url.exit_code == 2 and "unsupported database URL" in bad_url.stderr


def test_spend(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/spend.db"
    store = open_store(db)
    store.write_batch([
        RequestRecord(request_id="a", chosen_model="weak", key_id="key_1", team="ml", route="auto",
                      cost_usd=0.001, counterfactual_cost_usd=0.004),
        RequestRecord(request_id="b", chosen_model="strong", key_id="key_1", team="ml", route="auto",
                      cost_usd=0.004, counterfactual_cost_usd=0.004),
        RequestRecord(request_id="c", chosen_model="weak", key_id="key_2", team="web", cost_usd=0.002,
                      counterfactual_cost_usd=0.002),
    ])  # fmt: skip
    store.close()
    out = _wayfare("spend", "--database-url", db, "--group-by", "team", "--json")
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    ml = next(r for r in report["data"] if r["group"] == "ml")
    assert ml["requests"] == 2 and abs(ml["savings_usd"] - 0.003) < 1e-12 and abs(ml["savings_pct"] - 37.5) < 1e-9
    assert report["total"]["requests"] == 3 and report["measured_on"].startswith("3 requests")
    table = _wayfare("spend", "--database-url", db, "--group-by", "route")
    assert "auto" in table.stdout and "37.5%" in table.stdout and "measured on 3 requests" in table.stdout
    bad = _wayfare("spend", "--database-url", db, "--group-by", "colour")
    assert bad.exit_code == 2 and "group_by must be one of" in bad.stderr
