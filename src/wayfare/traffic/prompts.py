"""Prompt files for ``wayfare share``: JSONL rows of a prompt or OpenAI messages, with optional labels.

A row is ``{"id": ..., "prompt": "..."}`` or ``{"id": ..., "messages": [...]}``; optional ``"reference"`` (the
expected answer, for the reference labellers) and ``"scores"`` (user-supplied ``{"strong": s, "weak": w}`` or
keyed by model name, each in [0, 1]). A missing id becomes the 1-based line number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson


class PromptFileError(ValueError):
    """A prompt file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class PromptRow:
    id: str
    messages: list[dict[str, Any]]
    reference: str | None = None
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The last user message (what a router scores)."""
        for m in reversed(self.messages):
            if m.get("role") == "user":
                content = m.get("content")
                if isinstance(content, str):
                    return content
                if isinstance(content, list):
                    return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        return ""


def _row(obj: Any, where: str, lineno: int) -> PromptRow:
    if not isinstance(obj, dict):
        raise PromptFileError(f"{where}: expected a JSON object")
    if isinstance(obj.get("messages"), list) and obj["messages"]:
        messages = obj["messages"]
        if not all(isinstance(m, dict) and "role" in m for m in messages):
            raise PromptFileError(f"{where}: every message needs a 'role'")
    elif isinstance(obj.get("prompt"), str) and obj["prompt"].strip():
        messages = [{"role": "user", "content": obj["prompt"]}]
    else:
        raise PromptFileError(f"{where}: needs a non-empty 'prompt' string or 'messages' list")
    ref = obj.get("reference")
    if ref is not None and not isinstance(ref, str | int | float):
        raise PromptFileError(f"{where}: 'reference' must be a string or number")
    raw_scores = obj.get("scores") or {}
    if not isinstance(raw_scores, dict):
        raise PromptFileError(f"{where}: 'scores' must be an object of model -> score")
    scores: dict[str, float] = {}
    for k, v in raw_scores.items():
        if not isinstance(v, int | float) or not 0.0 <= float(v) <= 1.0:
            raise PromptFileError(f"{where}: score for {k!r} must be a number in [0, 1], got {v!r}")
        scores[str(k)] = float(v)
    return PromptRow(
        id=str(obj.get("id", lineno)),
        messages=messages,
        reference=None if ref is None else str(ref),
        scores=scores,
    )


def load_prompts(path: str | Path) -> list[PromptRow]:
    """All rows of a prompt JSONL file; :class:`PromptFileError` on the first bad line or duplicate id."""
    path = Path(path)
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise PromptFileError(f"cannot read prompt file {path}: {exc.strerror}") from None
    rows: list[PromptRow] = []
    seen: set[str] = set()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{i}"
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise PromptFileError(f"{where}: invalid JSON: {exc}") from None
        row = _row(obj, where, i)
        if row.id in seen:
            raise PromptFileError(f"{where}: duplicate id {row.id!r}")
        seen.add(row.id)
        rows.append(row)
    if not rows:
        raise PromptFileError(f"{path}: no prompts")
    return rows


def sample_rows(rows: list[PromptRow], n: int | None, seed: int = 0) -> list[PromptRow]:
    """A uniform sample of ``n`` rows without replacement (all rows when ``n`` is None or >= len), in file order."""
    if n is None or n >= len(rows):
        return list(rows)
    if n <= 0:
        raise ValueError(f"--sample must be positive, got {n}")
    keep = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in keep]
