"""Python SDK: :class:`Controller`, RouteLLM's in-process routing client."""

from wayfare.sdk.controller import Controller, RouteDecision, RoutingError

__all__ = ["Controller", "RouteDecision", "RoutingError"]
