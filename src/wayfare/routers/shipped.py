"""Where the routers shipped inside the package live: ``default`` (the pair router) and ``default-n`` (N models).
No router code here, so the artifact reader and the registry can both use it."""

from __future__ import annotations

from pathlib import Path

DEFAULTS_DIR = Path(__file__).parent / "defaults"
SHIPPED = {"default": "pair", "default-pair": "pair", "default-n": "n"}


def shipped_router_path(name: str) -> Path:
    """Folder of a router shipped inside the package (``default`` = the pair router, ``default-n`` = N models)."""
    if name not in SHIPPED:
        raise ValueError(f"no shipped router {name!r}; shipped: {', '.join(SHIPPED)}")
    return DEFAULTS_DIR / SHIPPED[name]
