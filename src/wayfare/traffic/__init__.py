"""Your traffic, your router: measure the routable share of your own prompts and whether routing pays.

Parts: :mod:`prompts` (read and sample prompt files), :mod:`cache` (responses on disk, so a rerun pays nothing
twice), :mod:`collect` (call both models through the gateway's providers), :mod:`labels` (reference, scorer,
pairwise judge, user scores), :mod:`share` (routable share with a Wilson CI), :mod:`breakeven`, :mod:`report`,
:mod:`feedback` (``POST /v1/feedback``), :mod:`replay` (an upstream replaying recorded answers).

Submodules are imported where used: the gateway imports only ``feedback`` (no scipy or matplotlib on the
serving path).
"""
