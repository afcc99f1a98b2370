"""MT-Bench (FastChat single-answer judgements) loader on a fixture in the real format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from wayfare.data import DataFormatError, load_mt_bench, load_table

FIX = Path(__file__).parent / "fixtures" / "mt_bench"


def test_scores_are_turn_means_rescaled() -> None:
    t = load_table(FIX, "mt-bench")
    assert t.prompt_ids == ["mt-bench/81", "mt-bench/101"]  # 121 is contaminated
    assert t.prompts[0] == "Compose a travel blog post about Hawaii."
    assert t.categories == ["writing", "reasoning"]
    assert t.models == ["strong-model", "weak-model"]
    # strong: (9+7)/2=8 -> 7/9, 10 -> 1; weak: (4+6)/2=5 -> 4/9, 1 -> 0
    np.testing.assert_allclose(t.scores, [[7 / 9, 4 / 9], [1.0, 0.0]])
    assert t.meta["judge"] == "gpt-4" and t.meta["raw_score_scale"] == [1.0, 10.0]
    assert t.meta["n_contaminated_dropped"] == 1
    assert t.pair().strong == "strong-model"


def test_judge_failure_dropped_without_contamination(tmp_path: Path) -> None:
    shutil.copytree(FIX, tmp_path / "d")
    (tmp_path / "d" / "contaminated_prompts.jsonl").unlink()
    t = load_mt_bench(tmp_path / "d")
    assert len(t) == 3
    # q121: strong turn 2 is -1 (judge failure) -> only turn 1 (8) counts; weak (5+3)/2 = 4
    np.testing.assert_allclose(t.scores[2], [7 / 9, 3 / 9])
    assert t.meta["n_judge_failures_dropped"] == 1


def test_pick_judge() -> None:
    t = load_mt_bench(FIX, judge="claude-judge")
    np.testing.assert_allclose(t.scores[0], [0.0, 1.0])
    assert np.isnan(t.scores[1]).all()
    with pytest.raises(DataFormatError, match="no judgements by judge 'nobody'"):
        load_mt_bench(FIX, judge="nobody")


def test_fastchat_file_name_and_plain_judge(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(FIX / "question.jsonl", d / "question.jsonl")
    rows = [json.loads(x) for x in (FIX / "judgements.jsonl").read_text().splitlines()]
    with (d / "judgments.jsonl").open("w") as fh:
        for r in rows:
            fh.write(json.dumps({**r, "judge": r["judge"][0]}) + "\n")
    assert load_mt_bench(d).meta["judge"] == "gpt-4"


def test_bad_rows(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"needs question\.jsonl and judgements\.jsonl"):
        load_mt_bench(tmp_path)
    shutil.copytree(FIX, tmp_path / "d")
    with (tmp_path / "d" / "judgements.jsonl").open("a") as fh:
        fh.write('{"question_id": 81, "model": "m", "judge": ["gpt-4", "single-v1"], "score": 12, "turn": 1}\n')
    with pytest.raises(DataFormatError, match=r"score 12\.0 is outside 1-10"):
        load_mt_bench(tmp_path / "d")
    (tmp_path / "d" / "question.jsonl").write_text('{"question_id": 1, "turns": []}\n')
    with pytest.raises(DataFormatError, match=r"question.jsonl:1: needs 'question_id'"):
        load_mt_bench(tmp_path / "d")


def test_load_table_passes_options() -> None:
    t = load_table(FIX, "mt-bench", judge="claude-judge")
    assert t.meta["judge"] == "claude-judge"
    with pytest.raises(DataFormatError, match=r"format 'mt-bench' has no option join \(options: judge\)"):
        load_table(FIX, "mt-bench", join="outer")
