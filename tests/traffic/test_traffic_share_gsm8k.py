"""``wayfare share`` on real GSM8K behaviour: GPT-4's and Mixtral's recorded answers replayed over HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from wayfare.cli import app
from wayfare.mockllm.runner import ThreadedServer
from wayfare.traffic.replay import write_routellm_prompts

STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"


def config_yaml(url: str) -> str:
    return f"""models:
  - name: {STRONG}
    base_url: {url}/v1
    input_price: 10
    output_price: 30
  - name: {WEAK}
    base_url: {url}/v1
    input_price: 0.6
    output_price: 0.6
database_url: none
"""


def _share(tmp: Path, url: str, out: str, *extra: str) -> tuple[dict[str, Any], str]:
    cfg = tmp / "wayfare.yaml"
    cfg.write_text(config_yaml(url))
    args = ["share", "--prompts", str(tmp / "prompts.jsonl"), "--strong", STRONG, "--weak", WEAK]
    args += ["--config", str(cfg), "--cache-dir", str(tmp / "cache"), "--out", str(tmp / out), "--no-progress"]
    res = CliRunner().invoke(app, [*args, *extra])
    assert res.exit_code == 0, res.output
    return json.loads((tmp / out / "share.json").read_text()), res.output


def _csv_share(rows: list[dict[str, str]], ids: list[str]) -> float:
    """RouteLLM's own figure on these prompts: both correct + only the weak model correct (= weak correct)."""
    by_id = {f"gsm8k-{i}": r for i, r in enumerate(rows)}
    return sum(by_id[i][WEAK] == "True" for i in ids) / len(ids)


def test_share_matches_routellm_csv_and_rerun_pays_nothing(
    tmp_path: Path, gsm8k_replay: ThreadedServer, gsm8k_rows: list[dict[str, str]], gsm8k_csv: Path
) -> None:
    rows = gsm8k_rows
    write_routellm_prompts(gsm8k_csv, tmp_path / "prompts.jsonl", STRONG, WEAK)

    def served() -> int:
        return int(httpx.get(gsm8k_replay.url + "/_replay/count").json()["count"])

    t0 = time.perf_counter()
    data, output = _share(tmp_path, gsm8k_replay.url, "s200", "--sample", "200", "--seed", "7")
    assert time.perf_counter() - t0 < 60
    est = data["routable_share"]
    assert isinstance(est, dict) and est["n"] == 200
    ids = [lab["id"] for lab in data["labels"]]
    lo, hi = est["ci95"]
    assert lo < est["share"] < hi and hi - lo < 0.15
    # On the sample, the CSV's figure for the same prompts lies inside the 95% CI (the criterion 4).
    assert lo <= _csv_share(rows, ids) <= hi
    assert data["break_even"]["verdict"] == "pays"
    assert "Routing pays" in output and "400 paid, 0 from cache" in output
    for name in ("report.html", "cost_quality.png", "share.png"):
        assert (tmp_path / "s200" / name).stat().st_size > 1000

    # Same sample again: every answer comes from the disk cache, the upstream sees no request.
    before = served()
    again, output = _share(tmp_path, gsm8k_replay.url, "s200b", "--sample", "200", "--seed", "7")
    assert served() == before and "0 paid, 400 from cache" in output
    assert again["routable_share"] == data["routable_share"]
    # Costs come from the cached token counts and today's prices: a dearer weak model moves the break-even.
    (tmp_path / "dear.yaml").write_text(config_yaml(gsm8k_replay.url).replace("0.6", "9.5"))
    args = [
        "share",
        "--prompts",
        str(tmp_path / "prompts.jsonl"),
        "--strong",
        STRONG,
        "--weak",
        WEAK,
        "--sample",
        "200",
    ]
    args += ["--seed", "7", "--config", str(tmp_path / "dear.yaml"), "--cache-dir", str(tmp_path / "cache")]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "dear"), "--no-progress"])
    dear = json.loads((tmp_path / "dear" / "share.json").read_text())
    assert res.exit_code == 0 and served() == before
    assert dear["break_even"]["price_ratio"] > 10 * data["break_even"]["price_ratio"]

    # All 1,319 prompts: only the 1,119 new ones are paid for; the share is within 2 points of the CSV's figure.
    full, output = _share(tmp_path, gsm8k_replay.url, "all")
    assert served() == before + 2 * (1319 - 200)
    share = full["routable_share"]["share"]
    csv_share = _csv_share(rows, [f"gsm8k-{i}" for i in range(len(rows))])
    assert abs(csv_share - 0.6384) < 1e-3
    assert abs(share - csv_share) <= 0.02
    # Rows with a reference agree with RouteLLM's grading almost everywhere (the two graders parse numbers a bit
    # differently); rows without one are labelled by agreement with the strong answer.
    labels = full["labels"]
    by_id = {f"gsm8k-{i}": r for i, r in enumerate(rows)}
    ref = [lab for lab in labels if lab["method"] == "reference:numeric"]
    agree = sum((by_id[lab["id"]][WEAK] == "True") == lab["routable"] for lab in ref)
    assert len(ref) == 1319 - 94 and agree / len(ref) > 0.995
    assert full["routers"][-2]["name"] == "oracle"
