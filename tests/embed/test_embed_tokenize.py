"""Token budget: long text keeps head (3/4) and tail (1/4); empty, huge and non-ASCII text never fail."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wayfare.embed.tokenize import BudgetTokenizer, head_tail


def test_head_tail_keeps_three_quarters_head_one_quarter_tail() -> None:
    ids = list(range(100))
    kept = head_tail(ids, 8)
    assert kept == [0, 1, 2, 3, 4, 5, 98, 99]
    assert head_tail(ids, 100) == ids
    assert head_tail([1, 2], 8) == [1, 2]
    assert head_tail(ids, 1) == [0]
    assert head_tail(ids, 0) == []


def test_long_text_keeps_its_head_and_tail(tokenizer_file: Path) -> None:
    tok = BudgetTokenizer(tokenizer_file, 34)
    text = "alpha beta gamma " + "filler " * 500 + "omega psi"
    ids = tok.encode([text])[0]
    words = tok.tokenizer.decode(ids)
    assert len(ids) == 34
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id
    assert words.startswith("alpha beta gamma")
    assert words.endswith("omega psi")
    full = tok.tokenizer.encode(text, add_special_tokens=False).ids
    assert ids[1:-1] == full[:24] + full[-8:]  # 32 word pieces: 3/4 head, 1/4 tail


def test_short_text_is_untouched(tokenizer_file: Path) -> None:
    tok = BudgetTokenizer(tokenizer_file, 128)
    ids = tok.encode(["Hello, world!"])[0]
    assert tok.tokenizer.decode(ids) == "hello, world!"
    assert len(ids) == 6


def test_empty_and_whitespace(tokenizer_file: Path) -> None:
    tok = BudgetTokenizer(tokenizer_file, 16)
    assert tok.encode(["", "   \n\t"]) == [[tok.cls_id, tok.sep_id]] * 2
    assert BudgetTokenizer(tokenizer_file, 16, special_tokens=False).encode([""]) == [[]]


def test_huge_input_is_cut_before_tokenising(tokenizer_file: Path) -> None:
    tok = BudgetTokenizer(tokenizer_file, 128)
    text = "start " + ("lorem ipsum dolor sit amet " * 200_000) + " finish"  # ~5.4 MB
    started = time.perf_counter()
    ids = tok.encode([text])[0]
    assert time.perf_counter() - started < 5.0  # generous: tokenising 5 MB whole takes tens of seconds
    words = tok.tokenizer.decode(ids)
    assert len(ids) == 128
    assert words.startswith("start lorem") and words.endswith("finish")


def test_non_ascii(tokenizer_file: Path) -> None:
    tok = BudgetTokenizer(tokenizer_file, 64)
    rows = tok.encode(["Größe über Straße", "東京は日本の首都です", "🙂🚀 emoji", "\x00\ufffd"])
    assert all(2 <= len(r) <= 64 for r in rows)
    assert tok.tokenizer.decode(rows[0]) == "große uber straße"


def test_budget_must_fit_special_tokens(tokenizer_file: Path) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        BudgetTokenizer(tokenizer_file, 2)
