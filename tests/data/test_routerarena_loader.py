"""RouterArena cached-results loader: an integer-index fixture, rows in the real format, and the real sample."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from wayfare.data import DataFormatError, PriceTable, load_routerarena, load_table

FIX = Path(__file__).parent / "fixtures" / "routerarena"
SAMPLE = Path("/work/shared/data/routerarena-sample")


def test_inner_join() -> None:
    t = load_table(FIX, "routerarena")
    assert t.models == ["model-a", "model-b"]
    assert t.prompt_ids == ["0", "1", "2"]
    assert t.prompts[1] == "Integrate x^2 from 0 to 1."
    # model-b failed on index 2 (success false) -> score 0
    np.testing.assert_array_equal(t.scores, [[1, 1], [1, 0], [0, 0]])
    assert t.costs is not None and t.input_tokens is not None and t.output_tokens is not None
    np.testing.assert_allclose(t.costs, [[0.0004, 0.00002], [0.002, 0.0001], [0.0005, 0.0]])
    np.testing.assert_array_equal(t.output_tokens[:, 1], [2, 80, 0])
    assert "recorded" in str(t.meta["cost_basis"])
    assert t.meta["join"] == "inner" and t.meta["n_indices_union"] == 4


def test_outer_join_keeps_nan() -> None:
    t = load_routerarena(FIX, join="outer")
    assert t.prompt_ids == ["0", "1", "2", "3"]
    assert np.isnan(t.scores[3, 1]) and t.scores[3, 0] == 1.0
    assert len(t.dropna()) == 3


def test_bad_rows(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"directory of <model>\.jsonl"):
        load_routerarena(tmp_path)
    shutil.copytree(FIX, tmp_path / "d")
    with (tmp_path / "d" / "model-a.jsonl").open("a") as fh:
        fh.write(json.dumps({"global_index": 0, "question": "dup"}) + "\n")
    with pytest.raises(DataFormatError, match=r"model-a.jsonl:5: duplicate global_index 0"):
        load_routerarena(tmp_path / "d")
    (tmp_path / "d" / "model-a.jsonl").write_text(
        '{"global_index": 9, "question": "q", "evaluation_result": {"score": "x"}}\n'
    )
    with pytest.raises(DataFormatError, match=r"evaluation_result\.score must be a number"):
        load_routerarena(tmp_path / "d")


def _row(index: object, score: object, **extra: object) -> dict[str, object]:
    """A row as RouterArena writes it (string index, total_tokens, error, metric)."""
    return {
        "global_index": index,
        "question": f"question {index}",
        "llm_selected": "m",
        "generated_answer": "...",
        "token_usage": {"input_tokens": 100, "output_tokens": 50, "total_tokens": 150},
        "success": True,
        "provider": "p",
        "error": None,
        "evaluation_result": {"score": score, "metric": "math_metric", "inference_cost": 0.001, "ground_truth": "1"},
        **extra,
    }


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_string_indices_categories_and_clipping(tmp_path: Path) -> None:
    d = tmp_path / "cached_results"
    _write(
        d / "model-a.jsonl",
        [_row("MMLUPro_biology_10", 1.0), _row("GSM8K_43", -0.033), _row("GSM8K_7", 1.02), _row("GSM8K_100", 0.5)],
    )
    failed = _row("GSM8K_7", None, success=False, error="rate limited")
    _write(d / "model-b.jsonl", [_row("GSM8K_43", 0.0), failed, _row("MMLUPro_biology_10", -0.5), _row("GSM8K_100", 1)])
    t = load_routerarena(d)
    assert t.name == tmp_path.name  # the directory holding cached_results/, not "cached_results"
    # sorted by dataset, then by the number in the index
    assert t.prompt_ids == ["GSM8K_7", "GSM8K_43", "GSM8K_100", "MMLUPro_biology_10"]
    assert t.categories == ["GSM8K", "GSM8K", "GSM8K", "MMLUPro_biology"]
    assert t.prompts[1] == "question GSM8K_43"
    np.testing.assert_allclose(t.scores, [[1.0, 0.0], [0.0, 0.0], [0.5, 1.0], [1.0, 0.0]])
    assert t.meta["n_scores_clipped"] == {"model-a": 2, "model-b": 1}
    assert t.meta["n_failed_calls"] == {"model-a": 0, "model-b": 1}
    assert "clipped to [0, 1]" in str(t.meta["score_transform"])
    assert load_routerarena(tmp_path).prompt_ids == t.prompt_ids  # the parent of cached_results/ works too


def test_scores_far_outside_unit_range_are_errors(tmp_path: Path) -> None:
    _write(tmp_path / "m.jsonl", [_row("GSM8K_1", 1.0), _row("GSM8K_2", -3.5)])
    with pytest.raises(DataFormatError) as exc:
        load_routerarena(tmp_path)
    assert str(exc.value) == (
        f"{tmp_path / 'm.jsonl'}:2: evaluation_result.score -3.5 is not a [0, 1] score "
        "(only scores in [-1, 2] are clipped to [0, 1])"
    )
    _write(tmp_path / "m.jsonl", [_row(True, 1.0)])
    with pytest.raises(DataFormatError, match=r"m\.jsonl:1: expected a string or integer 'global_index', got True"):
        load_routerarena(tmp_path)


def test_missing_cost_from_cost_json(tmp_path: Path) -> None:
    rows = [_row("GSM8K_1", 1.0), _row("GSM8K_2", 0.0)]
    del rows[1]["evaluation_result"]["inference_cost"]  # type: ignore[attr-defined]
    _write(tmp_path / "cached_results" / "model-a.jsonl", rows)
    prices = {"model-a": {"input_token_price_per_million": 2.0, "output_token_price_per_million": 8.0}}
    (tmp_path / "model_cost").mkdir()
    (tmp_path / "model_cost" / "cost.json").write_text(json.dumps(prices))
    for path in (tmp_path, tmp_path / "cached_results"):
        t = load_routerarena(path)
        assert t.costs is not None
        # recorded cost kept; the missing one = 100 input x $2/1M + 50 output x $8/1M
        np.testing.assert_allclose(t.costs[:, 0], [0.001, (100 * 2.0 + 50 * 8.0) / 1e6])
        assert t.meta["price_file"] == str(tmp_path / "model_cost" / "cost.json")
        assert t.meta["n_costs_from_list_prices"] == {"model-a": 1}
        assert "cost.json" in str(t.meta["cost_basis"])
    # explicit prices replace cost.json
    own = PriceTable.from_dict({"models": {"model-a": {"input": 1.0, "output": 1.0}}})
    t = load_routerarena(tmp_path, prices=own)
    assert t.costs is not None and t.costs[1, 0] == pytest.approx(150 / 1e6)
    assert t.meta["price_file"] is None
    (tmp_path / "model_cost" / "cost.json").write_text('{"model-a": {"input_token_price_per_million": "free"}}')
    with pytest.raises(DataFormatError, match=r"cost\.json: 'model-a' needs numeric 'input_token_price_per_million'"):
        load_routerarena(tmp_path)


@pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"RouterArena sample not present at {SAMPLE}")
def test_real_sample_unchanged() -> None:
    root = load_table(SAMPLE, "routerarena")
    cached = load_table(SAMPLE / "cached_results", "routerarena")
    for t in (root, cached):
        assert t.name == "routerarena-sample"
        assert t.models == ["claude-3-haiku-20240307", "gemini-2.0-flash-001"]
        assert t.prompt_ids == [
            "GSM8K_43",
            "GeoBench_1002",
            "MMLUPro_biology_3310",
            "MMLUPro_business_126",
            "MMLUPro_chemistry_4407",
            "MMLUPro_economics_6114",
        ]
        assert t.categories is not None and t.categories[:3] == ["GSM8K", "GeoBench", "MMLUPro_biology"]
        assert t.mean_scores() == {"claude-3-haiku-20240307": 1 / 6, "gemini-2.0-flash-001": 4 / 6}
        assert t.costs is not None and t.costs[0, 0] == pytest.approx(0.00036275)
        assert t.input_tokens is not None and t.input_tokens[0, 0] == 141
        assert t.meta["price_file"] == str(SAMPLE / "model_cost" / "cost.json")
    np.testing.assert_array_equal(root.scores, cached.scores)


@pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"RouterArena sample not present at {SAMPLE}")
def test_real_sample_cost_json_matches_recorded_costs(tmp_path: Path) -> None:
    """RouterArena's recorded inference_cost is tokens x its cost.json prices; recomputing gives the same costs."""
    (tmp_path / "s" / "model_cost").mkdir(parents=True)
    shutil.copyfile(SAMPLE / "model_cost" / "cost.json", tmp_path / "s" / "model_cost" / "cost.json")
    for f in (SAMPLE / "cached_results").glob("*.jsonl"):
        rows = [json.loads(x) for x in f.read_text().splitlines()]
        for r in rows:
            del r["evaluation_result"]["inference_cost"]
        _write(tmp_path / "s" / "cached_results" / f.name, rows)
    recomputed, recorded = load_routerarena(tmp_path / "s"), load_routerarena(SAMPLE)
    assert recomputed.costs is not None and recorded.costs is not None
    np.testing.assert_allclose(recomputed.costs, recorded.costs, rtol=1e-9)
    assert recomputed.meta["n_costs_from_list_prices"] == {"claude-3-haiku-20240307": 6, "gemini-2.0-flash-001": 6}
