"""`wayfare store ...` against a real SQLite file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from wayfare.store import RequestRecord, open_store, utcnow
from wayfare.store.cli import store_app

runner = CliRunner()


def _seed(path: Path) -> str:
    url = f"sqlite:///{path}"
    store = open_store(url)
    now = utcnow()
    store.write_batch(
        [
            RequestRecord(
                request_id=f"r{i}",
                time=now - timedelta(days=i),
                chosen_model="weak" if i % 3 else "strong",
                route="auto",
                key_id="k1",
                cost_usd=0.001,
                counterfactual_cost_usd=0.01 if i % 3 else 0.001,
            )
            for i in range(10)
        ]
    )
    store.close()
    return url


def test_spend_report(tmp_path: Path) -> None:
    url = _seed(tmp_path / "log.db")
    result = runner.invoke(store_app, ["spend", "--group-by", "model", "--database-url", url], terminal_width=200)
    assert result.exit_code == 0, result.output
    weak = next(line for line in result.output.splitlines() if "weak" in line)
    assert "0.0060" in weak and "0.0540" in weak and "90.0" in weak
    assert "Measured on 10 logged requests" in result.output


def test_prune_and_recent(tmp_path: Path) -> None:
    url = _seed(tmp_path / "log.db")
    result = runner.invoke(store_app, ["prune", "--older-than-days", "4.5", "--batch-size", "2", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "deleted 5 rows" in result.output and "in 3 batches" in result.output
    result = runner.invoke(store_app, ["recent", "--limit", "50", "--database-url", url], terminal_width=200)
    assert result.exit_code == 0
    assert [f"r{i}" in result.output for i in range(10)] == [True] * 5 + [False] * 5


def test_bad_input_is_one_line_and_non_zero(tmp_path: Path) -> None:
    result = runner.invoke(store_app, ["spend", "--group-by", "colour"])
    assert result.exit_code == 2 and "--group-by must be one of" in result.output
    result = runner.invoke(store_app, ["migrate", "--database-url", "mysql://u@h/db"])
    assert result.exit_code == 2 and "unsupported database URL scheme" in result.output
    url = _seed(tmp_path / "log.db")
    result = runner.invoke(store_app, ["spend", "--since", "yesterday", "--database-url", url])
    assert result.exit_code == 2 and "not an ISO date" in result.output


def test_recent_prints_whole_ids_when_piped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    store = open_store(url)
    long_id = "wf-" + "0123456789abcdef" * 2
    store.write_batch([RequestRecord(request_id=long_id, time=utcnow(), chosen_model="gpt-4o-mini", route="auto")])
    store.close()
    result = runner.invoke(store_app, ["recent", "--database-url", url])  # not a terminal: nothing is cut
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if long_id in line)
    assert "gpt-4o-mini" in row and "auto" in row and "…" not in result.output
