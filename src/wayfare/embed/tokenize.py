"""Tokenisation with a token budget: long text keeps its head and its tail, never an error."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer

HEAD_SHARE = 0.75
# A word-piece token covers a few characters; cutting text to this many characters per budget token before
# tokenising keeps huge inputs fast without changing which tokens are kept for ordinary text.
CHARS_PER_TOKEN_BOUND = 16


def head_tail(ids: Sequence[int], budget: int) -> list[int]:
    """Keep the first 3/4 and the last 1/4 of `budget` tokens when `ids` is longer than `budget`."""
    if budget <= 0:
        return []
    if len(ids) <= budget:
        return list(ids)
    head = max(1, round(budget * HEAD_SHARE)) if budget > 1 else 1
    tail = budget - head
    return list(ids[:head]) + (list(ids[len(ids) - tail :]) if tail else [])


class BudgetTokenizer:
    """Wraps a Hugging Face `tokenizer.json`; returns word-piece ids truncated head+tail to `max_tokens`.

    With `special_tokens=True` the budget includes [CLS] and [SEP] (a transformer input); otherwise the ids are
    plain word pieces (for a static table).
    """

    def __init__(self, path: Path, max_tokens: int, *, special_tokens: bool = True) -> None:
        if max_tokens < 3:
            raise ValueError(f"max_tokens must be at least 3, got {max_tokens}")
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.max_tokens = max_tokens
        self.special_tokens = special_tokens
        self.cls_id = self._id("[CLS]")
        self.sep_id = self._id("[SEP]")

    def _id(self, token: str) -> int:
        tid = self.tokenizer.token_to_id(token)
        if tid is None:
            raise ValueError(f"tokenizer has no {token} token")
        return int(tid)

    @property
    def budget(self) -> int:
        """Word pieces kept per text (excluding special tokens)."""
        return self.max_tokens - 2 if self.special_tokens else self.max_tokens

    def _clip_chars(self, text: str) -> str:
        limit = self.budget * CHARS_PER_TOKEN_BOUND
        if len(text) <= limit:
            return text
        head = int(limit * HEAD_SHARE)
        return text[:head] + " " + text[len(text) - (limit - head) :]

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        clipped = [self._clip_chars(t) for t in texts]
        encodings = self.tokenizer.encode_batch(clipped, add_special_tokens=False)
        out = []
        for enc in encodings:
            ids = head_tail(enc.ids, self.budget)
            out.append([self.cls_id, *ids, self.sep_id] if self.special_tokens else ids)
        return out
