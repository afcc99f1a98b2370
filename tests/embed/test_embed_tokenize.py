"""Token budget: long text keeps head (3/4) and tail (1/4); empty, huge and non-ASCII text never fail."""

from __future__ import annotations

import random
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


def _full_path(tok: BudgetTokenizer, text: str) -> list[int]:
    """The plain algorithm: tokenise the (character-clipped) text whole, then keep head and tail."""
    ids = head_tail(tok.tokenizer.encode(tok._clip_chars(text), add_special_tokens=False).ids, tok.budget)
    return [tok.cls_id, *ids, tok.sep_id] if tok.special_tokens else ids


@pytest.mark.parametrize("max_tokens", [3, 16, 64, 128, 512])
def test_window_tokenising_equals_tokenising_the_whole_text(
    tokenizer_file: Path, mmlu_prompts: list[str], max_tokens: int
) -> None:
    """Long text is tokenised from a head and a tail window only; the ids must be exactly the full path's."""
    rng = random.Random(max_tokens)
    texts = []
    for _ in range(150):
        text = " ".join(rng.sample(mmlu_prompts, rng.choice([1, 3, 8, 20])))
        cut = rng.randrange(len(text))
        texts.append(text[cut:] + text[:cut] if rng.random() < 0.5 else text)  # also starting/ending mid-word
    texts += ["x" * 5000, "東京は日本の首都です" * 300, "🙂" * 3000, "a" * 150 + " b" * 2000]
    texts += ["word " * 900 + "z" * 400, "https://example.com/" + "abc/" * 2000, "naïve café " * 500]
    texts += ["e\u0301" * 3000, "\x00\x01 hi " * 900]
    tok = BudgetTokenizer(tokenizer_file, max_tokens)
    windowed = sum(tok._encode_windows(t) is not None for t in texts)
    assert windowed > 0  # the fast path is exercised
    assert tok.encode(texts) == [_full_path(tok, t) for t in texts]
    assert [tok.encode([t])[0] for t in texts[:40]] == [_full_path(tok, t) for t in texts[:40]]
    plain = BudgetTokenizer(tokenizer_file, max_tokens, special_tokens=False)
    assert plain.encode(texts[:40]) == [_full_path(plain, t) for t in texts[:40]]
