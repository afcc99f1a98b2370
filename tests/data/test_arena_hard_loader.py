"""Arena-Hard (arena-hard-auto single-answer grades) loader on a fixture in the real layout, and on the real data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from wayfare.data import DataFormatError, PriceTable, estimate_tokens, load_arena_hard, load_table

FIX = Path(__file__).parent / "fixtures" / "arena_hard"
REAL = Path("/work/shared/data/chat/arena-bench-v1")


def test_grades_rescaled_and_counted() -> None:
    t = load_table(FIX, "arena-hard")
    assert t.name == "arena_hard"
    assert t.prompt_ids == ["arena_hard/q1", "arena_hard/q2", "arena_hard/q3", "arena_hard/q4"]
    # turns as strings and as {"content": ...} objects; the routed prompt is the first turn
    assert t.prompts == ["What is 2+2?", "Write a Python hello world.", "Write a haiku about rain.", t.prompts[3]]
    assert t.categories == ["math", "code", "writing", "math"]
    # the model is the row's `model` field, not the judgment file's name
    assert t.models == ["mid-model", "org/strong-model", "weak-model"]
    nan = np.nan
    expected = [
        [6 / 9, 1.0, 3 / 9],
        [6 / 9, 8.5 / 9, nan],  # mid: turns [[6]] and [[8]] averaged; strong: [[9.5]] with score null
        [3 / 9, 7 / 9, 1 / 9],  # mid: no [[N]] -> its score 4; strong: the last [[8]] wins over [[2]] and score 2
        [0.0, nan, nan],  # strong: "$ERROR$" is unparseable; weak has no judgment
    ]
    np.testing.assert_allclose(t.scores, expected)
    assert t.meta["n_unparseable"] == {"mid-model": 0, "org/strong-model": 1, "weak-model": 1}  # weak: score -1
    assert t.meta["n_unknown_question_dropped"] == 1
    assert t.meta["n_duplicate_judgments_averaged"] == 1
    assert t.meta["judge"] == "gpt-4-judge"
    assert t.meta["raw_score_scale"] == [1.0, 10.0]
    assert "(g - 1) / 9" in str(t.meta["score_transform"])
    assert t.meta["models_with_answers"] == ["extra-model", "org/strong-model"]
    assert t.pair().strong == "org/strong-model"


def test_costs_from_prices_and_strong_weak() -> None:
    two = {"org/strong-model": {"input": 10, "output": 30}, "mid-model": {"input": 1, "output": 1}}
    t = load_table(FIX, "arena-hard", prices=PriceTable.from_dict({"models": two}), strong="org/strong-model")
    assert t.strong == "org/strong-model"
    # weak-model has no price: no costs at all, and the cost basis says why
    assert t.costs is None and "no cost for weak-model" in str(t.meta["cost_basis"])
    three = {**two, "weak-model": {"input": 1, "output": 1}}
    t = load_arena_hard(FIX, prices=PriceTable.from_dict({"models": three}))
    assert t.costs is not None
    # no token counts in the data: input estimated from the first turn, output from the answer text ("4": 1 token)
    assert t.output_tokens is not None and t.output_tokens[0, 1] == estimate_tokens("4")
    assert t.costs[0, 1] == pytest.approx((estimate_tokens("What is 2+2?") * 10 + estimate_tokens("4") * 30) / 1e6)
    # mid-model has no answer file: its output counts as 0, and the cost basis says so
    assert t.costs[0, 0] == pytest.approx(estimate_tokens("What is 2+2?") * 1 / 1e6)
    assert "answer text in model_answer/" in str(t.meta["cost_basis"]) and "counted as 0" in str(t.meta["cost_basis"])
    assert np.isnan(t.costs[3, 1])  # no grade, no cost


def test_missing_config_means_unknown_judge(tmp_path: Path) -> None:
    shutil.copytree(FIX, tmp_path / "bench", ignore=shutil.ignore_patterns("*_config.yaml", "model_answer"))
    t = load_arena_hard(tmp_path / "bench")
    assert t.name == "bench" and t.prompt_ids[0] == "bench/q1"
    assert t.meta["judge"] is None and t.meta["models_with_answers"] == []
    # upstream keeps <dir>_config.yaml next to the directory
    (tmp_path / "bench_config.yaml").write_text("judge_model: gpt-4\n")
    assert load_arena_hard(tmp_path / "bench").meta["judge"] == "gpt-4"


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "d"
    shutil.copytree(FIX, d)
    return d


def _error(path: Path) -> str:
    with pytest.raises(DataFormatError) as exc:
        load_arena_hard(path)
    return str(exc.value)


def test_missing_files(tmp_path: Path) -> None:
    assert _error(tmp_path) == f"{tmp_path}: arena-hard format needs question.jsonl"
    (tmp_path / "f.jsonl").write_text("{}\n")
    assert _error(tmp_path / "f.jsonl") == (
        f"{tmp_path / 'f.jsonl'}: arena-hard format needs a directory with question.jsonl and model_judgment/"
    )
    shutil.copy(FIX / "question.jsonl", tmp_path / "question.jsonl")
    assert _error(tmp_path) == (
        f"{tmp_path}: arena-hard format needs a model_judgment/ directory of <model>.jsonl files"
    )
    (tmp_path / "model_judgment").mkdir()
    assert _error(tmp_path) == f"{tmp_path / 'model_judgment'}: no .jsonl judgment files"


def test_bad_lines(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    weak = d / "model_judgment" / "weak.jsonl"
    good = weak.read_text()
    weak.write_text(good + "{not json\n")
    assert _error(d).startswith(f"{weak}:4: not valid JSON: ")
    weak.write_text('{"question_id": "q1", "judgment": "Rating: [[4]]"}\n')
    assert _error(d) == f"{weak}:1: missing model"
    weak.write_text('{"question_id": "q1", "model": "weak-model"}\n')
    assert _error(d) == f"{weak}:1: missing judgment"
    weak.write_text('{"question_id": "q1", "model": "weak-model", "judgment": "Rating: [[11]]"}\n')
    assert _error(d) == f"{weak}:1: grade 11 is outside 1-10"
    weak.write_text('{"question_id": "q1", "model": "weak-model", "judgment": "no grade", "score": 0.5}\n')
    assert _error(d) == f"{weak}:1: grade 0.5 is outside 1-10"
    weak.write_text(good)
    (d / "question.jsonl").write_text('{"question_id": "q1", "turns": []}\n')
    assert _error(d) == (
        f"{d / 'question.jsonl'}:1: needs 'question_id' and a non-empty list 'turns' of strings "
        'or {"content": ...} objects'
    )


def test_no_grades_at_all(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    for f in (d / "model_judgment").glob("*.jsonl"):
        f.unlink()
    rows = [{"question_id": "q1", "model": "m", "judgment": "cut off", "score": None}]
    rows.append({"question_id": "nope", "model": "m", "judgment": "Rating: [[5]]"})
    (d / "model_judgment" / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _error(d) == (
        f"{d / 'model_judgment'}: no [[N]] grade or numeric score in the 1 judgments of questions in "
        "question.jsonl (1 judgments of other questions)"
    )
    pairwise = {"question_id": "q1", "model": "m", "judge": "gpt-4", "games": [{"score": "A>B"}]}
    (d / "model_judgment" / "m.jsonl").write_text(json.dumps(pairwise) + "\n")
    assert _error(d).endswith("(pairwise 'games' judgments are not supported, only single-answer grades)")


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real arena-bench-v1 data not present at {REAL}")
def test_real_arena_bench_v1() -> None:
    t = load_table(REAL, "arena-hard")
    assert t.name == "arena-bench-v1" and len(t) == 298 and len(t.models) == 14
    assert set(t.categories or []) == {"arena-bench-v1"}
    assert "gpt-4-1106-preview" in t.models and "mistralai/Mixtral-8x7B-Instruct-v0.1" in t.models
    assert "llama-13b" not in t.models and "llama-13b" in t.meta["models_with_answers"]  # type: ignore[operator]
    assert t.meta["judge"] == "gpt-4"
    unparseable = t.meta["n_unparseable"]
    assert isinstance(unparseable, dict) and sum(unparseable.values()) == 33
    assert unparseable["palm-2-chat-bison-001"] == 6 and unparseable["claude-instant-1"] == 0
    assert t.meta["n_unknown_question_dropped"] == 0
    # mean 1-10 grade per model, as in the data's README (rounded to one decimal there)
    readme = {
        "gpt-4-1106-preview": 8.9,
        "gpt-4-0314": 8.5,
        "gpt-3.5-turbo": 6.8,
        "gpt-3.5-turbo-1106": 6.7,
        "mistralai/Mixtral-8x7B-Instruct-v0.1": 6.6,
        "claude-2.1": 6.5,
        "claude-1": 6.2,
        "claude-instant-1": 6.2,
        "Starling-LM-7B-alpha": 5.5,
        "openchat_3.5": 5.1,
        "vicuna-33b-v1.3": 4.4,
        "Llama-2-70b-chat": 4.3,
        "mistralai/Mistral-7B-Instruct-v0.1": 3.6,
        "palm-2-chat-bison-001": 3.3,
    }
    raw = {m: 1 + 9 * s for m, s in t.mean_scores().items()}
    assert set(raw) == set(readme)
    for model, mean in readme.items():
        assert raw[model] == pytest.approx(mean, abs=0.06), model
    # decimal grades ([[9.5]]) have score null upstream; they are read from the text
    assert np.isclose(t.column("gpt-4-1106-preview"), 8.5 / 9).sum() == 1
    assert np.isclose(t.column("mistralai/Mixtral-8x7B-Instruct-v0.1"), 6.5 / 9).sum() == 1
    # every judged model has a list price (wayfare/data/prices.json) and every graded answer a cost that counts
    # its answer's length (GPT-4-1106 answers are ~1.6x longer than GPT-4-0314's, at a third / half its list price)
    graded = ~np.isnan(t.scores)
    assert t.costs is not None and not np.isnan(t.costs[graded]).any()
    assert t.output_tokens is not None and not np.isnan(t.output_tokens[graded]).any()
    assert "no cost for" not in str(t.meta["cost_basis"])
    per_call = dict(zip(t.models, np.nanmean(t.costs, axis=0), strict=True))
    assert per_call["gpt-4-0314"] > per_call["gpt-4-1106-preview"] > per_call["claude-2.1"]
