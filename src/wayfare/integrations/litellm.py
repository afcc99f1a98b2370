"""Wayfare's learned routing inside a LiteLLM proxy: a ``CustomLogger`` pre-call hook.

A request for a routed name (a route from the config, e.g. ``wayfare-auto``, or RouteLLM's
``router-<router>-<threshold>``) is scored by the Wayfare router in the proxy's process (no extra hop) and its
``model`` is rewritten to the route's strong or weak model, which LiteLLM then serves as usual (its keys, budgets,
fallbacks and logging apply). Every other request passes through untouched. The decision is added to the request's
``metadata["wayfare"]`` (so LiteLLM's logging callbacks see it) and to the response headers
(``x-wayfare-model``, ``-route``, ``-score``, ``-threshold``, ``-decision-ms``).

LiteLLM loads callbacks from a Python file next to its config. ``wayfare_hook.py``::

    from wayfare.integrations.litellm import WayfareRouting
    proxy_handler_instance = WayfareRouting.from_yaml("wayfare_routes.yaml")

``config.yaml``::

    litellm_settings:
      callbacks: wayfare_hook.proxy_handler_instance

``wayfare_routes.yaml``::

    routes:
      - {name: wayfare-auto, router: default, strong: gpt-4o, weak: gpt-4o-mini, threshold: 0.5}

See docs/INTEGRATIONS.md.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wayfare.gateway.routing import Scorer, load_scorer
from wayfare.routers.messages import prompt_text

if TYPE_CHECKING:
    _Base = object
else:
    try:
        from litellm.integrations.custom_logger import CustomLogger as _Base
    except ImportError:  # usable (and testable) without LiteLLM; LiteLLM only calls it when it is installed
        _Base = object

_ROUTER_NAME = re.compile(r"^router-(?P<router>.+)-(?P<threshold>(?:0|1)?\.\d+|0|1)$")


class LiteLLMRoute(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    """The model name clients send to the LiteLLM proxy."""
    router: str = "default"
    """A :func:`wayfare.routers.load_router` name or folder, or a baseline: ``random``, ``strong``, ``weak``."""
    strong: str
    """A ``model_name`` of LiteLLM's ``model_list``."""
    weak: str
    threshold: float = Field(default=0.5, ge=0, le=1)
    context: str = Field(default="last_user", pattern="^(last_user|all_user|conversation)$")


class LiteLLMRoutes(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: list[LiteLLMRoute] = Field(min_length=1)


class WayfareRouting(_Base):
    """The hook. ``routes``: the routed names; each loads its router once, at construction."""

    def __init__(self, routes: list[LiteLLMRoute]) -> None:
        super().__init__()
        if not routes:
            raise ValueError("WayfareRouting needs at least one route")
        self.routes = {r.name: r for r in routes}
        self.scorers: dict[str, Scorer] = {}
        for r in routes:
            if r.router not in self.scorers:
                self.scorers[r.router] = load_scorer(r.router)

    @classmethod
    def from_yaml(cls, path: str | Path) -> WayfareRouting:
        """Routes from a YAML file (relative paths: from the working directory, else next to this hook's caller)."""
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
            return cls(LiteLLMRoutes.model_validate(data).routes)
        except OSError as exc:
            raise ValueError(f"cannot read Wayfare routes {p}: {exc.strerror}") from None
        except ValidationError as exc:
            raise ValueError(f"{p}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None

    def resolve(self, model: str) -> tuple[LiteLLMRoute, float] | None:
        """The route and threshold for a requested name, or None when Wayfare does not route it."""
        route = self.routes.get(model)
        if route is not None:
            return route, route.threshold
        m = _ROUTER_NAME.match(model)
        if m is None:
            return None
        for r in self.routes.values():
            if r.router == m.group("router"):
                t = float(m.group("threshold"))
                return (r, t) if 0.0 <= t <= 1.0 else None
        return None

    def route_request(self, data: dict[str, Any]) -> dict[str, Any]:
        """Rewrite ``data["model"]`` of a routed request (in place) and record the decision; others untouched."""
        model = data.get("model")
        resolved = self.resolve(model) if isinstance(model, str) else None
        if resolved is None:
            return data
        route, threshold = resolved
        messages = data.get("messages")
        text = prompt_text(messages, route.context) if isinstance(messages, list) else str(data.get("prompt", ""))
        t0 = time.perf_counter()
        try:
            score: float | None = float(self.scorers[route.router].score([text])[0])
            chosen = route.strong if score is not None and score >= threshold else route.weak
            reason = "router"
        except Exception as exc:  # the router never fails a request: the strong model answers
            score, chosen, reason = None, route.strong, f"router_error: {type(exc).__name__}: {exc}"
        ms = (time.perf_counter() - t0) * 1000
        decision = {"route": model, "model": chosen, "score": score, "threshold": threshold,
                    "decision_ms": ms, "reason": reason}  # fmt: skip
        data["model"] = chosen
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = data["metadata"] = {}
        metadata["wayfare"] = decision
        return data

    # ------------------------------------------------------------------ LiteLLM's hook API
    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        return self.route_request(data)

    async def async_post_call_response_headers_hook(
        self,
        data: Mapping[str, Any],
        user_api_key_dict: Any,
        response: Any,
        request_headers: Any = None,
        litellm_call_info: Any = None,
    ) -> dict[str, str] | None:
        metadata = data.get("metadata")
        d = metadata.get("wayfare") if isinstance(metadata, Mapping) else None
        if not isinstance(d, Mapping):
            return None
        headers = {"x-wayfare-model": str(d["model"]), "x-wayfare-route": str(d["route"]),
                   "x-wayfare-threshold": format(d["threshold"], ".10g"),
                   "x-wayfare-decision-ms": f"{d['decision_ms']:.3f}"}  # fmt: skip
        if d.get("score") is not None:
            headers["x-wayfare-score"] = f"{d['score']:.6f}"
        return headers
