"""Reading prompt files for ``wayfare score`` / ``wayfare calibrate`` and writing score files.

Input rows: ``{"id": ..., "prompt": "..."}`` or ``{"id": ..., "messages": [...]}`` (OpenAI chat format; the last
user message is scored). Output rows: ``{"id": ..., "score": float}`` (pair router) or
``{"id": ..., "scores": {model: float}}`` (N-model router).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from wayfare.routers._core import FloatArray


class PromptFileError(ValueError):
    """A prompts file is missing or has a bad row (the message names the file and line)."""


def last_user_message(messages: Any) -> str:
    """Text of the last ``role: user`` message (string content, or the text parts of a content list)."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    for msg in reversed(messages):
        if isinstance(msg, Mapping) and msg.get("role") == "user":
            return content_text(msg.get("content"))
    raise ValueError("messages has no user message")


def content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [str(p.get("text", "")) for p in content if isinstance(p, Mapping) and p.get("type") in ("text", None)]
        return "\n".join(parts)
    raise ValueError(f"message content must be a string or a list of parts, got {type(content).__name__}")


def prompt_of(row: Mapping[str, Any]) -> str:
    """The text to route for one input row."""
    if "prompt" in row:
        if not isinstance(row["prompt"], str):
            raise ValueError("'prompt' must be a string")
        return row["prompt"]
    if "messages" in row:
        return last_user_message(row["messages"])
    raise ValueError("row needs 'prompt' or 'messages'")


def read_prompts(path: str | Path) -> tuple[list[Any], list[str]]:
    """Ids and prompt texts of a prompts JSONL file (ids default to the 0-based row number)."""
    p = Path(path)
    if not p.is_file():
        raise PromptFileError(f"{p}: no such file")
    ids: list[Any] = []
    prompts: list[str] = []
    with p.open("rb") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise PromptFileError(f"{p}:{line_no}: not valid JSON") from None
            if not isinstance(row, dict):
                raise PromptFileError(f"{p}:{line_no}: expected a JSON object")
            try:
                prompts.append(prompt_of(row))
            except ValueError as exc:
                raise PromptFileError(f"{p}:{line_no}: {exc}") from None
            ids.append(row.get("id", len(ids)))
    if not prompts:
        raise PromptFileError(f"{p}: no prompts")
    return ids, prompts


def score_rows(ids: Sequence[Any], values: FloatArray, models: Sequence[str] | None) -> Iterator[bytes]:
    """Output lines: pair scores when ``models`` is None, else a score per model."""
    for i, ident in enumerate(ids):
        if models is None:
            row: dict[str, Any] = {"id": ident, "score": float(values[i])}
        else:
            row = {"id": ident, "scores": {m: float(v) for m, v in zip(models, values[i], strict=True)}}
        yield orjson.dumps(row) + b"\n"


def write_scores(out: IO[bytes], ids: Sequence[Any], values: FloatArray, models: Sequence[str] | None) -> None:
    for line in score_rows(ids, np.asarray(values), models):
        out.write(line)
