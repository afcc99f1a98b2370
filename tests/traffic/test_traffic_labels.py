"""Labellers, routable share, break-even and prompt files: hand-checked values."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.gateway.config import parse_config
from wayfare.mockllm.runner import ThreadedServer
from wayfare.traffic.breakeven import break_even, router_cost_per_request
from wayfare.traffic.cache import ResponseCache
from wayfare.traffic.collect import Call, Collector
from wayfare.traffic.labels import Label, exact_match, judge_label, load_matcher, numeric_match, parse_verdict
from wayfare.traffic.measure import ShareSettings, label_pairs
from wayfare.traffic.prompts import PromptFileError, PromptRow, load_prompts, sample_rows
from wayfare.traffic.replay import replay_app
from wayfare.traffic.share import routable_share


def test_numeric_and_exact_match() -> None:
    assert numeric_match("so she makes 9 * $2 = $18 every day", "18") == 1.0
    assert numeric_match("The total is 1,250.", "1250") == 1.0
    assert numeric_match("#### 18\n", "17") == 0.0
    assert numeric_match("no number here", "3") == 0.0
    assert numeric_match("-4.50", "-4.5") == 1.0
    assert exact_match("  Paris. ", "paris") == 1.0 and exact_match("Lyon", "Paris") == 0.0


def test_user_scorer_is_loaded_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_scorers.py").write_text(
        "def half_credit(answer, reference):\n    return 0.5 if reference in answer else 0.0\n"
        "def broken(answer, reference):\n    return 2.0\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    m = load_matcher("my_scorers:half_credit")
    assert m("x = 12", "12") == 0.5 and m("x", "12") == 0.0
    with pytest.raises(ValueError, match="expected a score in"):
        load_matcher("my_scorers:broken")("a", "b")
    with pytest.raises(ValueError, match="module:function"):
        load_matcher("nonsense")
    with pytest.raises(ValueError, match="has no function"):
        load_matcher("my_scorers:nope")


def test_judge_position_bias_cancels() -> None:
    assert parse_verdict("thinking... [[B]]") == "B" and parse_verdict("[[tie]]") == "tie"
    assert parse_verdict("no verdict") is None
    always_a = judge_label("1", "A", "A")  # a judge that always prefers the first answer
    assert always_a.weak_score == 0.5 and always_a.routable()
    weak_wins = judge_label("2", "B", "A")
    assert weak_wins.weak_score == 1.0 and weak_wins.routable()
    strong_wins = judge_label("3", "A", "B")
    assert strong_wins.weak_score == 0.0 and not strong_wins.routable()


def test_routable_share_and_wilson_ci() -> None:
    labels = [Label(str(i), 1.0, 1.0, "x") for i in range(6)]
    labels += [Label("a", 1.0, 0.0, "x"), Label("b", 0.0, 0.0, "x"), Label("c", 0.0, 1.0, "x"), Label("d", 1, 0.0, "x")]
    est = routable_share(labels)
    assert (est.routable, est.neither, est.n) == (7, 1, 10)
    assert est.share == 0.7 and est.no_loss_share == 0.8
    # Wilson 95% for 7/10, by hand: centre (7 + 1.92)/13.84, half-width 1.96*sqrt(2.1+0.96)/13.84.
    z = 1.959964
    centre = (7 + z * z / 2) / (10 + z * z)
    half = z * math.sqrt(7 * 3 / 10 + z * z / 4) / (10 + z * z)
    assert est.ci == pytest.approx((centre - half, centre + half), abs=1e-5)
    tolerant = routable_share([Label("x", 1.0, 0.8, "x")], tolerance=0.25)
    assert tolerant.routable == 1


def test_break_even_verdicts() -> None:
    be = break_even(cost_strong=0.01, cost_weak=0.001, share=0.6, share_ci=(0.5, 0.7), router_cost=0.0, decision_ms=1)
    assert be.break_even_share == pytest.approx(0.05 * 0.01 / 0.009)
    assert be.verdict == "pays" and be.savings_per_1k == pytest.approx(0.6 * 0.009 * 1000)
    assert be.break_even_price_ratio == pytest.approx(1 - 0.0005 / 0.006)
    low = break_even(cost_strong=0.01, cost_weak=0.008, share=0.1, share_ci=(0.05, 0.2), router_cost=0.0, decision_ms=1)
    assert low.break_even_share == pytest.approx(0.25) and low.verdict == "does not pay"
    assert "does NOT pay" in low.statement
    mid = break_even(cost_strong=0.01, cost_weak=0.008, share=0.25, share_ci=(0.2, 0.3), router_cost=0.0, decision_ms=1)
    assert mid.verdict == "uncertain"
    dearer = break_even(cost_strong=0.01, cost_weak=0.02, share=0.9, share_ci=(0.8, 1), router_cost=0.0, decision_ms=1)
    assert dearer.verdict == "does not pay" and math.isinf(dearer.break_even_share)
    assert router_cost_per_request(3.6, 1.0) == pytest.approx(1e-6)
    assert router_cost_per_request(3.6, 1.0, usd_per_1k=2.0) == 0.002


def test_prompt_file_errors_and_sampling(tmp_path: Path) -> None:
    p = tmp_path / "p.jsonl"
    p.write_text('{"prompt": "hi"}\n{"messages": [{"role": "user", "content": "yo"}], "reference": 3}\n')
    rows = load_prompts(p)
    assert [r.id for r in rows] == ["1", "2"] and rows[1].reference == "3" and rows[1].text == "yo"
    assert sample_rows(rows, 1, seed=0) == sample_rows(rows, 1, seed=0) and len(sample_rows(rows, 5)) == 2
    p.write_text('{"prompt": "hi"}\n{"id": 1, "nothing": true}\n')
    with pytest.raises(PromptFileError, match=r"p.jsonl:2: needs a non-empty 'prompt'"):
        load_prompts(p)
    p.write_text('{"prompt": "hi", "scores": {"a": 2}}\n')
    with pytest.raises(PromptFileError, match=r"in \[0, 1\]"):
        load_prompts(p)


def test_share_cli_bad_input_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text("not json\n")
    (tmp_path / "c.yaml").write_text("models:\n  - name: a\n    base_url: http://127.0.0.1:9/v1\n")
    args = ["share", "--prompts", str(tmp_path / "p.jsonl"), "--strong", "a", "--weak", "b"]
    res = CliRunner().invoke(app, [*args, "--config", str(tmp_path / "c.yaml")])
    assert res.exit_code == 2 and "invalid JSON" in res.output
    res = CliRunner().invoke(app, [*args, "--config", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 2 and "cannot read config" in res.output


def _biased_judge(body: dict[str, Any]) -> str:
    """Prefers the answer ending in 42; otherwise always says A (position bias)."""
    text = body["messages"][-1]["content"]
    a = text.split("[Answer A]\n")[1].split("\n[End of answer A]")[0]
    b = text.split("[Answer B]\n")[1].split("\n[End of answer B]")[0]
    if a.endswith("42") != b.endswith("42"):
        return "[[A]]" if a.endswith("42") else "[[B]]"
    return "Both look fine. [[A]]"


def test_pairwise_judge_over_http(tmp_path: Path) -> None:
    answers = {
        "big": {"q1": "it is 42", "q2": "it is 42", "q3": "it is 7"},
        "small": {"q1": "42", "q2": "5", "q3": "9"},
    }
    rows = [PromptRow(q, [{"role": "user", "content": q}]) for q in ("q1", "q2", "q3")]
    with ThreadedServer(replay_app(answers, judges={"judge": _biased_judge})) as srv:
        url = srv.url + "/v1"
        cfg = parse_config(
            "models:\n" + "".join(f"  - name: {m}\n    base_url: {url}\n" for m in ("big", "small", "judge"))
        )
        collector = Collector(cfg, ResponseCache(tmp_path / "c"), show_progress=False)
        s = ShareSettings(strong="big", weak="small", judge="judge")
        strong = asyncio.run(collector.run([Call("big", r.messages) for r in rows]))
        weak = asyncio.run(collector.run([Call("small", r.messages) for r in rows]))
        labels = asyncio.run(label_pairs(collector, rows, strong, weak, s))
    assert [lab.method for lab in labels] == ["judge"] * 3
    assert [lab.weak_score for lab in labels] == [0.5, 0.0, 0.5]  # tie (bias cancelled), strong wins, tie
    assert [lab.routable() for lab in labels] == [True, False, True]
    assert collector.paid_calls == 3 + 3 + 6


def test_collector_fails_over_between_a_models_deployments(tmp_path: Path) -> None:
    # A model's first deployment refuses connections: the answers come from its second, and never from a fallback.
    answers = {"big": {"q1": "4", "q2": "5"}, "backup": {"q1": "no", "q2": "no"}}
    with ThreadedServer(replay_app(answers)) as up:
        cfg = parse_config(
            f"""models:
  - {{name: big, base_url: http://127.0.0.1:9/v1}}
  - {{name: big, base_url: {up.url}/v1}}
  - {{name: backup, base_url: {up.url}/v1}}
fallbacks: {{big: [backup]}}
load_balancing: {{strategy: least-busy}}
retry: {{max_retries: 0, backoff_base: 0.001}}
"""
        )
        collector = Collector(cfg, ResponseCache(tmp_path / "c"), show_progress=False)
        got = asyncio.run(collector.run([Call("big", [{"role": "user", "content": q}]) for q in ("q1", "q2")]))
    assert [a.text for a in got] == ["4", "5"]
