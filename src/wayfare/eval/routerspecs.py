"""Turning ``--routers a,b,c`` into :class:`RouterSpec` objects: registry names, saved router folders, shipped ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from wayfare.embed.base import Embedder
from wayfare.eval.report import BASELINES
from wayfare.eval.scoring import RouterSpec

EmbedderFactory = Callable[[], Embedder]


def parse_names(value: str | None) -> list[str]:
    """Comma-separated names, blanks dropped, order kept, duplicates removed."""
    names: list[str] = []
    for part in (value or "").split(","):
        name = part.strip()
        if name and name not in names:
            names.append(name)
    return names


def _is_artifact(name: str) -> bool:
    from wayfare.routers.registry import SHIPPED

    return name in SHIPPED or Path(name).exists() or "/" in name


def _kind(name: str) -> str:
    """The registry kind of ``kind`` or ``kind[param=value;...]``."""
    return name.partition("[")[0].strip()


def needs_embedder(names: list[str]) -> bool:
    """Whether any of the routers embeds prompts (registry routers that need it; artifacts load their own)."""
    from wayfare.routers import available_routers, router_class

    known = set(available_routers())
    kinds = [_kind(n) for n in names]
    return any(k in known and k not in BASELINES and router_class(k).needs_embedder for k in kinds)


def resolve_routers(names: list[str], embedder: Embedder | None, seed: int) -> tuple[list[RouterSpec], list[str]]:
    """Specs for ``names`` and notes for the user (e.g. a baseline that is always included anyway).

    A registry name gives a fresh router per fold (trained on that fold's training rows); ``default`` /
    ``default-n`` or a path gives a fitted artifact scored on every evaluated prompt without training.
    """
    from wayfare.eval.transfer_sources import parse_router
    from wayfare.routers import available_routers, load_router, make_router

    known = available_routers()
    specs: list[RouterSpec] = []
    notes: list[str] = []
    for name in names:
        if name in BASELINES:
            notes.append(f"{name} is a baseline and always included")
            continue
        if _kind(name) in known:  # kind or kind[param=value;...]; parse_router checks the parameter syntax
            choice = parse_router(name)

            def factory(kind: str = choice.kind, params: dict[str, Any] = choice.params) -> Any:
                return make_router(kind, embedder=embedder, seed=seed, **params)

            specs.append(RouterSpec(name, factory=factory, description=f"registry router {name!r}, trained per fold"))
        elif _is_artifact(name):
            router = load_router(name)
            label = Path(name).name or name
            specs.append(RouterSpec(label, artifact=router, description=f"router artifact {name!r}, not retrained"))
        else:
            raise ValueError(
                f"unknown router {name!r}: not a registry router ({', '.join(known)}), "
                "not a shipped router (default, default-n) and not an existing router folder"
            )
    return specs, notes
