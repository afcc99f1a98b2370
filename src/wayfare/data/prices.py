"""List prices (USD per 1M tokens) and turning token counts into per-call costs.

The default table is ``prices.json`` next to this module; every entry names its source and date. Token counts that a
source does not record are estimated from text with :func:`estimate_tokens` (``ceil(len(text) / 4)``, the usual
rule of thumb of about four characters per token for English), and the table's ``meta`` says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np

from wayfare.data.table import FloatArray, ResultsTable

CHARS_PER_TOKEN = 4.0
"""Characters per token used when a token count has to be estimated from text."""


def estimate_tokens(text: str) -> int:
    """Estimated token count of ``text``: ``ceil(len(text) / 4)``, at least 1 for a non-empty text."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class ModelPrice:
    """USD per 1M input and output tokens of one model, with where the number comes from."""

    input: float
    output: float
    source: str = ""
    date: str = ""


@dataclass(frozen=True)
class PriceTable:
    """Model name -> list price. Lookup is exact, then case-insensitive, then on the part after the last ``/``."""

    prices: Mapping[str, ModelPrice] = field(default_factory=dict)
    source: str = "custom"

    @classmethod
    def default(cls) -> PriceTable:
        """The price table shipped with Wayfare (``wayfare/data/prices.json``)."""
        text = resources.files("wayfare.data").joinpath("prices.json").read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text), source="wayfare/data/prices.json")

    @classmethod
    def from_file(cls, path: str | Path) -> PriceTable:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read price table {path}: {exc}") from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: object, source: str = "custom") -> PriceTable:
        """Build from ``{"models": {name: {"input": float, "output": float, "source"?, "date"?}}}``."""
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            raise ValueError(f"price table {source}: expected an object with a 'models' object")
        prices: dict[str, ModelPrice] = {}
        for name, entry in data["models"].items():
            if not isinstance(entry, dict):
                raise ValueError(f"price table {source}: entry for {name!r} is not an object")
            try:
                p_in, p_out = float(entry["input"]), float(entry["output"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"price table {source}: {name!r} needs numeric 'input' and 'output'") from None
            if not (p_in >= 0 and p_out >= 0 and math.isfinite(p_in) and math.isfinite(p_out)):
                raise ValueError(f"price table {source}: {name!r} has a negative or non-finite price")
            prices[str(name)] = ModelPrice(p_in, p_out, str(entry.get("source", "")), str(entry.get("date", "")))
        return cls(prices, source)

    def _lookup(self, model: str) -> ModelPrice | None:
        if model in self.prices:
            return self.prices[model]
        lowered = {k.lower(): v for k, v in self.prices.items()}
        if model.lower() in lowered:
            return lowered[model.lower()]
        base = model.rsplit("/", 1)[-1].lower()
        by_base = {k.rsplit("/", 1)[-1].lower(): v for k, v in self.prices.items()}
        return by_base.get(base)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self._lookup(model) is not None

    def entry(self, model: str) -> ModelPrice:
        found = self._lookup(model)
        if found is None:
            raise KeyError(f"no price for model {model!r} in {self.source}; add it to the price table")
        return found

    def price(self, model: str) -> tuple[float, float]:
        """``(input, output)`` USD per 1M tokens."""
        entry = self.entry(model)
        return entry.input, entry.output

    def cost(self, model: str, input_tokens: float, output_tokens: float) -> float:
        """USD for one call of ``model`` with the given token counts."""
        p_in, p_out = self.price(model)
        return (input_tokens * p_in + output_tokens * p_out) / 1e6

    def covers(self, models: Iterable[str]) -> bool:
        return all(m in self for m in models)

    def describe(self, models: Iterable[str]) -> str:
        """One line per model: ``name: $in/$out per 1M (source, date)``."""
        parts = []
        for m in models:
            e = self.entry(m)
            when = f", {e.date}" if e.date else ""
            parts.append(f"{m}: ${e.input:g} in / ${e.output:g} out per 1M tokens ({e.source}{when})")
        return "; ".join(parts)


def fill_costs(table: ResultsTable, prices: PriceTable | None = None) -> ResultsTable:
    """The table with ``costs`` computed from list prices wherever a model has a score but no recorded cost.

    Input tokens missing from the table are estimated from each prompt with :func:`estimate_tokens`; missing output
    tokens count as 0 (the cost then covers input only). Recorded costs are kept. If a model that needs a cost has
    no list price, the table is returned without computed costs. ``meta["cost_basis"]`` always says which case
    applied, and ``meta["prices_usd_per_1m_tokens"]`` lists the prices used.
    """
    prices = prices or PriceTable.default()
    meta = dict(table.meta)
    known = ~np.isnan(table.scores)
    need = known if table.costs is None else known & np.isnan(table.costs)
    recorded = f"costs recorded in the source data ({meta.get('source', table.name)})"
    if not need.any():
        meta.setdefault("cost_basis", recorded)
        return replace(table, meta=meta)
    needing = [x for j, x in enumerate(table.models) if need[:, j].any()]
    missing = [x for x in needing if x not in prices]
    if missing:
        prefix = f"{recorded} where present; " if table.costs is not None else ""
        meta["cost_basis"] = f"{prefix}no cost for {', '.join(missing)}: no recorded cost and no list price"
        return replace(table, meta=meta)

    n, m = len(table), len(table.models)
    input_tokens = table.input_tokens
    est_note = f"input tokens estimated from the routed prompt text as ceil(chars/{CHARS_PER_TOKEN:g})"
    if input_tokens is None or np.isnan(input_tokens[need]).any():
        est = np.array([estimate_tokens(p) for p in table.prompts], dtype=np.float64)
        est_full = np.repeat(est[:, None], m, axis=1)
        if input_tokens is None:
            input_tokens = np.where(known, est_full, np.nan)
            in_note = est_note
        else:
            input_tokens = np.where(np.isnan(input_tokens) & known, est_full, input_tokens)
            in_note = f"input tokens from the source data where recorded, else {est_note}"
        meta["input_tokens_estimated"] = True
        meta["input_tokens_basis"] = in_note
    else:
        in_note = str(meta.get("input_tokens_basis", "input tokens from the source data"))
    output_tokens = table.output_tokens
    if output_tokens is None:
        out_for_cost: FloatArray = np.zeros((n, m), dtype=np.float64)
        out_note = "output tokens unknown: costs count input tokens only"
    else:
        out_for_cost = np.nan_to_num(output_tokens, nan=0.0)
        out_note = str(meta.get("output_tokens_basis", "output tokens from the source data"))
        if np.isnan(output_tokens[need]).any():
            out_note += " (counted as 0 where unknown)"
    priced = [x for x in table.models if x in prices]
    p_in = np.array([prices.price(x)[0] if x in prices else np.nan for x in table.models], dtype=np.float64)
    p_out = np.array([prices.price(x)[1] if x in prices else np.nan for x in table.models], dtype=np.float64)
    listed = (input_tokens * p_in[None, :] + out_for_cost * p_out[None, :]) / 1e6
    if table.costs is None:
        costs = np.where(need, listed, np.nan)
        prefix = ""
    else:
        costs = np.where(need, listed, table.costs)
        prefix = f"{recorded} where present, else "
    meta["prices_usd_per_1m_tokens"] = {x: list(prices.price(x)) for x in priced}
    meta["cost_basis"] = f"{prefix}list prices from {prices.source} ({prices.describe(needing)}); {in_note}; {out_note}"
    return replace(table, costs=costs, input_tokens=input_tokens, meta=meta)
