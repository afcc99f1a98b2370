"""RouterArena cached-results loader on a fixture in the real format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from wayfare.data import DataFormatError, load_routerarena, load_table

FIX = Path(__file__).parent / "fixtures" / "routerarena"


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
