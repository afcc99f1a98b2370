"""Per-request cost from token usage: prices from the config first, else the price table (by upstream name)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wayfare.data.prices import PriceTable
from wayfare.gateway.config import GatewayConfig, ModelConfig


class Pricing:
    """USD per 1M input/output tokens for each configured model (None when neither config nor table knows it).

    A model with several deployments has the prices of its first one (what routing compares); the cost of a request
    uses the prices of the deployment that answered it."""

    def __init__(self, config: GatewayConfig, table: PriceTable | None = None) -> None:
        table = table if table is not None else PriceTable.default()
        self.prices: dict[str, tuple[float, float] | None] = {}
        self.deployment_prices: dict[str, tuple[float, float] | None] = {}
        for name in dict.fromkeys(m.name for m in config.models):
            for dep_id, m in zip(config.deployment_ids(name), config.deployments(name), strict=True):
                self.deployment_prices[dep_id] = self._price(m, table)
            self.prices[name] = self.deployment_prices[config.deployment_ids(name)[0]]

    @staticmethod
    def _price(m: ModelConfig, table: PriceTable) -> tuple[float, float] | None:
        price: tuple[float, float] | None = None
        if m.upstream_model in table:
            price = table.price(m.upstream_model)
        elif m.name in table:
            price = table.price(m.name)
        if m.input_price is not None or m.output_price is not None:
            base = price or (0.0, 0.0)
            price = (
                m.input_price if m.input_price is not None else base[0],
                m.output_price if m.output_price is not None else base[1],
            )
        return price

    def cost(self, model: str, input_tokens: int, output_tokens: int, deployment: str | None = None) -> float | None:
        """USD of a request on ``model`` (at ``deployment``'s prices when given)."""
        price = self.deployment_prices.get(deployment) if deployment is not None else self.prices.get(model)
        if price is None:
            return None
        return (input_tokens * price[0] + output_tokens * price[1]) / 1e6

    def most_expensive(self, models: list[str]) -> str:
        """The candidate with the highest price (input + output per 1M); the last one if none is priced."""
        priced = [(p[0] + p[1], i, m) for i, m in enumerate(models) if (p := self.prices.get(m)) is not None]
        return max(priced)[2] if priced else models[-1]


def usage_tokens(usage: Mapping[str, Any] | None) -> tuple[int, int]:
    """(input, output) tokens of an OpenAI ``usage`` object (embeddings have no completion tokens)."""
    if not usage:
        return 0, 0
    try:
        return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    except (TypeError, ValueError):
        return 0, 0
