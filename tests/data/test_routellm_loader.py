"""RouteLLM MMLU / GSM8K CSV loaders on fixtures in the real format, and on the real data when present."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from wayfare.data import DataFormatError, load_routellm_gsm8k, load_routellm_mmlu, load_table

FIX = Path(__file__).parent / "fixtures" / "routellm"
SHARED = Path(os.environ.get("WAYFARE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"


def tok(text: str) -> int:
    return math.ceil(len(text) / 4)


def test_mmlu_fixture() -> None:
    t = load_routellm_mmlu(FIX / "mmlu")
    assert t.prompt_ids == ["mmlu/anatomy/0", "mmlu/anatomy/2", "mmlu/college_physics/0", "mmlu/college_physics/1"]
    assert t.categories == ["anatomy", "anatomy", "college_physics", "college_physics"]
    assert t.models == [WEAK, STRONG] and (t.strong, t.weak) == (STRONG, WEAK)
    np.testing.assert_array_equal(t.scores, [[1, 1], [1, 0], [0, 0], [1, 1]])
    assert t.prompts[1].startswith("How many chambers")
    assert t.meta["n_contaminated_dropped"] == 1 and t.meta["n_source_rows"] == 5
    # 1 output token per answer; GPT-4 at $10 in / $30 out per 1M tokens
    assert t.output_tokens is not None and (t.output_tokens == 1).all()
    assert t.costs is not None
    p0 = t.prompts[0]
    assert t.costs[0, 1] == pytest.approx((tok(p0) * 10 + 30) / 1e6)
    assert t.costs[0, 0] == pytest.approx((tok(p0) + 1) * 0.6 / 1e6)
    assert "estimated" in str(t.meta["cost_basis"])


def test_mmlu_accepts_responses_dir() -> None:
    t = load_routellm_mmlu(FIX / "mmlu" / "responses")
    assert len(t) == 4  # contaminated list found in the parent directory


def test_gsm8k_fixture_output_tokens_from_responses() -> None:
    t = load_routellm_gsm8k(FIX / "gsm8k")
    assert t.prompt_ids == ["gsm8k/0", "gsm8k/1"]
    np.testing.assert_array_equal(t.scores, [[1, 1], [0, 1]])
    assert t.output_tokens is not None
    assert t.output_tokens[0, 1] == tok("Tom has 3 + 4 = 7 apples.\n\nThe answer is 7.")
    assert t.output_tokens[1, 0] == tok(" 60 / 2 = 30\n#### 30")
    assert t.meta["n_contaminated_dropped"] == 1
    assert t.categories is None
    same = load_routellm_gsm8k(FIX / "gsm8k" / "gsm8k_responses.csv")
    np.testing.assert_array_equal(same.scores, t.scores)


def test_bad_csv(tmp_path: Path) -> None:
    (tmp_path / "mmlu_x.csv").write_text("prompt,gpt-4-1106-preview\nq,True\n")
    with pytest.raises(DataFormatError, match="missing column"):
        load_routellm_mmlu(tmp_path)
    (tmp_path / "mmlu_x.csv").write_text(f"prompt,{WEAK},{STRONG}\nq,True,maybe\n")
    with pytest.raises(DataFormatError, match="record 1: expected True/False"):
        load_routellm_mmlu(tmp_path)
    with pytest.raises(DataFormatError, match="no mmlu_"):
        load_routellm_mmlu(tmp_path / "nothing")
    with pytest.raises(DataFormatError, match="no such file"):
        load_routellm_gsm8k(tmp_path)


@pytest.mark.skipif(not (SHARED / "routellm").is_dir(), reason=f"real RouteLLM data not found at {SHARED}/routellm")
def test_real_routellm_counts_and_accuracy() -> None:
    mmlu = load_table(SHARED / "routellm" / "mmlu", "routellm-mmlu")
    assert len(mmlu) == 14037 and mmlu.meta["n_source_rows"] == 14042
    assert len(set(mmlu.categories or [])) == 57
    gsm = load_table(SHARED / "routellm" / "gsm8k", "routellm-gsm8k")
    assert len(gsm) == 1307 and gsm.meta["n_source_rows"] == 1319
    # README: over all 14,042 rows Mixtral 68.08 %, GPT-4 80.58 %; the 5 dropped rows barely move that
    assert mmlu.mean_scores()[STRONG] == pytest.approx(0.8058, abs=0.001)
    assert mmlu.mean_scores()[WEAK] == pytest.approx(0.6808, abs=0.001)
    assert gsm.mean_scores()[STRONG] == pytest.approx(0.8567, abs=0.003)
