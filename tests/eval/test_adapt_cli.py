"""`wayfare adapt`: adapting the shipped default-n to a user's own models, through the real CLI and the real default
embedder (offline); bad input is a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openai
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.gateway.config import parse_config
from wayfare.gateway.testing import GatewayStack
from wayfare.routers import read_meta
from wayfare.routers.shipped import shipped_router_path

runner = CliRunner()
FIX = Path(__file__).parents[1] / "data" / "fixtures" / "arena_hard"
CODE = "Write a Python function that returns the n-th Fibonacci number using memoisation."
CHAT = "Suggest a friendly name for a bakery that sells sourdough bread."


def graded_table(path: Path, n: int = 40) -> Path:
    """n prompts graded for three models: ``coder`` is good on code prompts only, ``chatty`` the other way round,
    ``plain`` is middling on both."""
    rows = []
    for i in range(n):
        code = i % 2 == 0
        prompt = (CODE if code else CHAT) + f" (variant {i})"
        scores = {"coder": 0.9 if code else 0.2, "chatty": 0.3 if code else 0.8, "plain": 0.5}
        rows.append({"id": str(i), "prompt": prompt, "results": {m: {"score": v} for m, v in scores.items()}})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert lines[0].startswith("error: ")
    return " ".join(lines)


def test_adapt_default_n_to_two_new_models_then_score(tmp_path: Path) -> None:
    data, out = graded_table(tmp_path / "mine.jsonl"), tmp_path / "adapted"
    result = runner.invoke(app, ["adapt", "--input", str(data), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "adapted default-n to 3 models of mine (40 prompts)" in result.output and "leave-one-out" in result.output
    meta = read_meta(out)
    assert meta["kind"] == "adapted" and sorted(meta["models"]) == ["chatty", "coder", "plain"]
    assert meta["params"]["bases"] == ["default-n"]
    assert meta["state"]["bases"][0]["kind"] == read_meta(shipped_router_path("default-n"))["kind"]
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "c", "prompt": CODE}) + "\n" + json.dumps({"id": "t", "prompt": CHAT}) + "\n")
    scored = tmp_path / "s.jsonl"
    result = runner.invoke(app, ["score", "--router", str(out), "--input", str(prompts), "--output", str(scored)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    code, chat = rows[0]["scores"], rows[1]["scores"]
    assert code["coder"] > code["chatty"] and chat["chatty"] > chat["coder"]
    assert all(0.0 <= v <= 1.0 for v in np.concatenate([list(code.values()), list(chat.values())]))


def test_adapt_errors_are_one_line(tmp_path: Path) -> None:
    data = graded_table(tmp_path / "mine.jsonl")
    out = str(tmp_path / "o")
    msg = one_line_error(["adapt", "--router", "no-such-router", "--input", str(data), "--output", out])
    assert "no router artifact at no-such-router" in msg
    single = tmp_path / "one.jsonl"
    single.write_text(json.dumps({"id": "1", "prompt": "hi", "results": {"a": {"score": 1.0}}}) + "\n")
    assert "the table has 1 model" in one_line_error(["adapt", "--input", str(single), "--output", out])
    msg = one_line_error(["adapt", "--input", str(FIX), "--format", "arena-hard", "--output", out])
    assert "too few graded prompts in arena_hard" in msg and "at least 20" in msg
    msg = one_line_error(["adapt", "--input", str(data), "--output", out, "--param", "alpha=-2"])
    assert "alpha must be 'auto' or a number >= 0" in msg
    assert not Path(out).exists()


def test_the_gateway_serves_an_adapted_router_on_an_n_model_route(tmp_path: Path) -> None:
    """`wayfare adapt` output as a route's router: code prompts go to the coder, chat to the chatty model."""
    out = tmp_path / "adapted"
    result = runner.invoke(app, ["adapt", "--input", str(graded_table(tmp_path / "m.jsonl")), "--output", str(out)])
    assert result.exit_code == 0, result.output
    config = (
        "models:\n"
        + "".join(
            f"  - {{name: {m}, model: up-{m}, base_url: URL, input_price: 1, output_price: 1}}\n"
            for m in ("coder", "chatty", "plain")
        )
        + f"routes:\n  - {{name: mine, router: {out}, models: [plain, coder, chatty], policy: {{tolerance: 0.05}}}}\n"
        + "database_url: none\n"
    )
    with GatewayStack(lambda url: parse_config(config.replace("URL", url))) as stack:
        client = openai.OpenAI(base_url=stack.base_url, api_key="unused", max_retries=0, timeout=10)
        for prompt, expected in ((CODE, "coder"), (CHAT, "chatty")):
            raw = client.chat.completions.with_raw_response.create(
                model="mine", messages=[{"role": "user", "content": prompt}]
            )
            assert raw.headers["x-wayfare-model"] == expected and raw.headers["x-wayfare-reason"] == "router"
