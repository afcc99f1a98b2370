"""Wayfare: an OpenAI-compatible LLM gateway with learned model routing, and the evaluator behind it."""

from typing import TYPE_CHECKING, Any

from wayfare._version import __version__

if TYPE_CHECKING:
    from wayfare.sdk.controller import Controller


def __getattr__(name: str) -> Any:
    # lazy: ``import wayfare`` stays light; ``wayfare.Controller`` loads the SDK on first use
    if name == "Controller":
        from wayfare.sdk.controller import Controller

        return Controller
    raise AttributeError(f"module 'wayfare' has no attribute {name!r}")


__all__ = ["Controller", "__version__"]
