"""Break-even: at what routable share and price ratio routing starts to pay, and whether this traffic is above it.

Per request, always-strong costs ``c_s``; a router that sends the routable share ``r`` to the weak model (and
only those, so quality is kept) costs ``r * c_w + (1 - r) * c_s + c_router``. Routing is worth switching on when
it saves at least ``min_savings`` of the always-strong bill:

    r * (c_s - c_w) - c_router >= min_savings * c_s
    =>  r* = (min_savings * c_s + c_router) / (c_s - c_w)         (break-even routable share)
    =>  rho* = 1 - (min_savings * c_s + c_router) / (r * c_s)     (break-even price ratio c_w / c_s at share r)

``c_router`` is the router's own cost per decision: its CPU time priced at ``cpu_usd_per_hour`` (a local router),
or a hosted router's price per 1,000 decisions. The verdict uses the share's 95% CI: "pays" when even its lower
bound clears r*, "does not pay" when even its upper bound falls short, "uncertain" otherwise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

VerdictKind = Literal["pays", "does not pay", "uncertain"]


@dataclass(frozen=True)
class BreakEven:
    cost_strong: float
    cost_weak: float
    price_ratio: float
    router_cost: float
    decision_ms: float
    min_savings: float
    share: float
    share_ci: tuple[float, float]
    break_even_share: float
    break_even_price_ratio: float
    savings_per_1k: float
    savings_fraction: float
    verdict: VerdictKind
    statement: str

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["share_ci"] = list(self.share_ci)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def router_cost_per_request(decision_ms: float, cpu_usd_per_hour: float, usd_per_1k: float | None = None) -> float:
    """USD per routing decision: a hosted price per 1,000 decisions if given, else CPU time x core-hour price."""
    if usd_per_1k is not None:
        return usd_per_1k / 1000
    return decision_ms / 1000 / 3600 * cpu_usd_per_hour


def break_even(
    *,
    cost_strong: float,
    cost_weak: float,
    share: float,
    share_ci: tuple[float, float],
    router_cost: float,
    decision_ms: float,
    min_savings: float = 0.05,
) -> BreakEven:
    """The break-even share / price ratio and a plain verdict (costs are mean USD per request)."""
    if cost_strong <= 0:
        raise ValueError("the strong model's cost per request must be positive to judge whether routing pays")
    gap = cost_strong - cost_weak
    need = min_savings * cost_strong + router_cost
    r_star = need / gap if gap > 0 else math.inf
    rho_star = 1 - need / (share * cost_strong) if share > 0 else -math.inf
    net = share * gap - router_cost
    ratio = cost_weak / cost_strong
    lo, hi = share_ci
    verdict: VerdictKind
    if lo >= r_star:
        verdict = "pays"
    elif hi < r_star:
        verdict = "does not pay"
    else:
        verdict = "uncertain"
    pct = f"{min_savings:.0%} of the always-strong bill"
    if gap <= 0:
        statement = (
            f"Routing does NOT pay: the weak model costs as much as or more than the strong one here "
            f"(price ratio {ratio:.2f}), so no routable share can save money."
        )
    elif verdict == "pays":
        statement = (
            f"Routing pays on this traffic: {share:.1%} routable (95% CI {lo:.1%}-{hi:.1%}) is above the break-even "
            f"share of {r_star:.1%} needed to save {pct} at a price ratio of {ratio:.3f}; a perfect router would save "
            f"{net / cost_strong:.1%} (${net * 1000:.4g} per 1,000 requests)."
        )
    elif verdict == "does not pay":
        statement = (
            f"Routing does NOT pay on this traffic: {share:.1%} routable (95% CI {lo:.1%}-{hi:.1%}) is below the "
            f"break-even share of {r_star:.1%} needed to save {pct} at a price ratio of {ratio:.3f}. Stay on one model."
        )
    else:
        statement = (
            f"Uncertain: {share:.1%} routable (95% CI {lo:.1%}-{hi:.1%}) straddles the break-even share of "
            f"{r_star:.1%} needed to save {pct}; label more prompts (larger --sample) to decide."
        )
    return BreakEven(
        cost_strong=cost_strong,
        cost_weak=cost_weak,
        price_ratio=ratio,
        router_cost=router_cost,
        decision_ms=decision_ms,
        min_savings=min_savings,
        share=share,
        share_ci=share_ci,
        break_even_share=r_star,
        break_even_price_ratio=rho_star,
        savings_per_1k=net * 1000,
        savings_fraction=net / cost_strong,
        verdict=verdict,
        statement=statement,
    )
