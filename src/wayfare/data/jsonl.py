"""Wayfare's own results format: one JSON object per line, one line per prompt (plain or gzip, by ``.gz`` suffix).

Row: ``{"id", "prompt" | "messages", "category"?, "split"?, "results": {model: {"score", "cost_usd"?,
"input_tokens"?, "output_tokens"?}}}``. An optional first line ``{"wayfare_table": {"name", "strong", "weak",
"meta"}}`` carries table-level facts; files without it are valid. See docs/DATA_FORMAT.md.
"""

from __future__ import annotations

import gzip
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wayfare.data.errors import DataFormatError
from wayfare.data.prices import PriceTable, fill_costs
from wayfare.data.table import FloatArray, ResultsTable

HEADER_KEY = "wayfare_table"
PRICE_META = ("cost_basis", "prices_usd_per_1m_tokens")
"""Meta keys describing computed costs; not written when costs are left out (they are recomputed on load)."""
SPLIT_META = {"train": "train_rows", "test": "test_rows"}
"""Row ``split`` values that become ``meta["<split>_rows"]`` index lists (any other value does too)."""


class ModelResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    score: float
    cost_usd: float | None = Field(default=None, ge=0)
    input_tokens: float | None = Field(default=None, ge=0)
    output_tokens: float | None = Field(default=None, ge=0)

    @field_validator("score")
    @classmethod
    def _score_range(cls, v: float) -> float:
        if not (math.isfinite(v) and 0.0 <= v <= 1.0):
            raise ValueError(f"score must be in [0, 1] (rescale judge scores first), got {v}")
        return v


class Row(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | int
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    category: str | None = None
    split: str | None = None
    results: dict[str, ModelResult]

    @model_validator(mode="after")
    def _check(self) -> Row:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' or 'messages'")
        if not self.results:
            raise ValueError("'results' is empty: give at least one model's score")
        return self

    def routed_text(self) -> str:
        """The prompt, or the last user message of ``messages`` (OpenAI chat format)."""
        if self.prompt is not None:
            return self.prompt
        assert self.messages is not None
        for msg in reversed(self.messages):
            if msg.get("role") == "user":
                return message_text(msg.get("content"))
        raise ValueError("'messages' has no message with role 'user'")


def message_text(content: object) -> str:
    """Text of an OpenAI chat message ``content``: a string, or a list of parts whose ``text`` parts are joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "\n".join(texts)
    raise ValueError(f"message content must be a string or a list of parts, got {type(content).__name__}")


def _open_text(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.GzipFile(path, mode + "b"), encoding="utf-8")
    return path.open(mode, encoding="utf-8")


def _pydantic_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with _open_text(path, "r") as fh:
            for lineno, line in enumerate(fh, start=1):
                if line.strip():
                    yield lineno, line
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: cannot read: {exc}") from exc


def load_jsonl(path: str | Path, *, prices: PriceTable | None = None, name: str | None = None) -> ResultsTable:
    """Read a results table in Wayfare's JSONL format (``.jsonl`` or ``.jsonl.gz``).

    Missing (prompt, model) results are NaN. When no row has ``cost_usd``, costs are filled from ``prices`` (the
    shipped price table by default) if every model has a price; ``meta["cost_basis"]`` records how.
    Raises :class:`DataFormatError` naming the file and line of the first bad row.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file")
    header: dict[str, Any] = {}
    rows: list[tuple[int, Row]] = []
    seen: dict[str, int] = {}
    for lineno, line in _lines(path):
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise DataFormatError(f"{path}:{lineno}: not valid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise DataFormatError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        if HEADER_KEY in obj:
            if rows or header:
                raise DataFormatError(f"{path}:{lineno}: '{HEADER_KEY}' header is only allowed on the first line")
            if not isinstance(obj[HEADER_KEY], dict):
                raise DataFormatError(f"{path}:{lineno}: '{HEADER_KEY}' must be an object")
            header = obj[HEADER_KEY]
            continue
        try:
            row = Row.model_validate(obj)
            row.routed_text()
        except ValidationError as exc:
            raise DataFormatError(f"{path}:{lineno}: {_pydantic_message(exc)}") from None
        except ValueError as exc:
            raise DataFormatError(f"{path}:{lineno}: {exc}") from None
        rid = str(row.id)
        if rid in seen:
            raise DataFormatError(f"{path}:{lineno}: duplicate id {rid!r} (first on line {seen[rid]})")
        seen[rid] = lineno
        rows.append((lineno, row))
    if not rows:
        raise DataFormatError(f"{path}: no rows")
    return _build(path, header, [r for _, r in rows], prices, name)


def _build(
    path: Path, header: dict[str, Any], rows: list[Row], prices: PriceTable | None, name: str | None
) -> ResultsTable:
    models: list[str] = []
    index: dict[str, int] = {}
    for row in rows:
        for model in row.results:
            if model not in index:
                index[model] = len(models)
                models.append(model)
    n, m = len(rows), len(models)

    def grid() -> FloatArray:
        return np.full((n, m), np.nan, dtype=np.float64)

    scores, costs, tin, tout = grid(), grid(), grid(), grid()
    for i, row in enumerate(rows):
        for model, res in row.results.items():
            j = index[model]
            scores[i, j] = res.score
            for arr, val in ((costs, res.cost_usd), (tin, res.input_tokens), (tout, res.output_tokens)):
                if val is not None:
                    arr[i, j] = val

    def known(a: FloatArray) -> FloatArray | None:
        return None if np.isnan(a).all() else a

    meta: dict[str, object] = dict(header.get("meta") or {})
    meta["source"] = str(path)
    splits: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if row.split is not None:
            splits.setdefault(row.split, []).append(i)
    for split, idx in splits.items():
        meta[SPLIT_META.get(split, f"{split}_rows")] = idx
    categories = [r.category or "" for r in rows] if any(r.category for r in rows) else None
    try:
        table = ResultsTable(
            name=name or str(header.get("name") or path.name.split(".")[0]),
            prompt_ids=[str(r.id) for r in rows],
            prompts=[r.routed_text() for r in rows],
            models=models,
            scores=scores,
            costs=known(costs),
            input_tokens=known(tin),
            output_tokens=known(tout),
            categories=categories,
            strong=header.get("strong"),
            weak=header.get("weak"),
            meta=meta,
        )
    except ValueError as exc:
        raise DataFormatError(f"{path}: header: {exc}") from None
    return fill_costs(table, prices)


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def save_jsonl(table: ResultsTable, path: str | Path, *, header: bool = True, costs: bool = True) -> Path:
    """Write ``table`` in Wayfare's JSONL format (gzip when ``path`` ends in ``.gz``).

    ``meta`` lists ``train_rows`` / ``test_rows`` (and any ``<split>_rows``) become each row's ``split``;
    the rest of ``meta`` goes to the header line (``header=False`` writes rows only). ``costs=False`` leaves
    ``cost_usd`` out (e.g. when costs are derived from list prices at load time).
    """
    path = Path(path)
    split_of: dict[int, str] = {}
    head_meta: dict[str, object] = {}
    for key, value in table.meta.items():
        if key.endswith("_rows") and isinstance(value, list):
            for i in value:
                split_of[int(i)] = key.removesuffix("_rows")
        elif key != "source" and (costs or key not in PRICE_META):
            head_meta[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    opts = orjson.OPT_SERIALIZE_NUMPY
    with _open_text(path, "w") as fh:
        if header:
            head = {"name": table.name, "strong": table.strong, "weak": table.weak, "meta": head_meta}
            fh.write(orjson.dumps({HEADER_KEY: head}, option=opts).decode() + "\n")
        for i in range(len(table)):
            results: dict[str, dict[str, float | int]] = {}
            for j, model in enumerate(table.models):
                s = table.scores[i, j]
                if np.isnan(s):
                    continue
                entry: dict[str, float | int] = {"score": _num(s)}
                for key, arr in (
                    ("cost_usd", table.costs if costs else None),
                    ("input_tokens", table.input_tokens),
                    ("output_tokens", table.output_tokens),
                ):
                    if arr is not None and not np.isnan(arr[i, j]):
                        entry[key] = _num(arr[i, j])
                results[model] = entry
            row: dict[str, object] = {"id": table.prompt_ids[i], "prompt": table.prompts[i]}
            if table.categories is not None and table.categories[i]:
                row["category"] = table.categories[i]
            if i in split_of:
                row["split"] = split_of[i]
            row["results"] = results
            fh.write(orjson.dumps(row, option=opts).decode() + "\n")
    return path
