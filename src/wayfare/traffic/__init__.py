"""Your traffic, your router: measure the routable share of your own prompts and whether routing pays.

Parts: :mod:`prompts` (read and sample prompt files), :mod:`cache` (responses on disk, so a rerun pays nothing
twice), :mod:`collect` (call both models through the gateway's providers), :mod:`labels` (reference, scorer,
pairwise judge, user scores), :mod:`share` (routable share with a Wilson CI), :mod:`breakeven`, :mod:`report`.
"""

from wayfare.traffic.breakeven import BreakEven, break_even
from wayfare.traffic.labels import Label, numeric_match
from wayfare.traffic.prompts import PromptRow, load_prompts, sample_rows
from wayfare.traffic.share import ShareEstimate, routable_share

__all__ = [
    "BreakEven",
    "Label",
    "PromptRow",
    "ShareEstimate",
    "break_even",
    "load_prompts",
    "numeric_match",
    "routable_share",
    "sample_rows",
]
