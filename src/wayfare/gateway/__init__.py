"""The OpenAI-compatible gateway server: config, providers, routing, retries and fallbacks, cost, request log."""

from wayfare.gateway.app import create_app
from wayfare.gateway.config import (
    ConfigError,
    GatewayConfig,
    ModelConfig,
    RetryConfig,
    RouteConfig,
    load_config,
    parse_config,
)
from wayfare.gateway.core import Gateway
from wayfare.gateway.reqlog import LogSink, MemorySink

__all__ = [
    "ConfigError",
    "Gateway",
    "GatewayConfig",
    "LogSink",
    "MemorySink",
    "ModelConfig",
    "RetryConfig",
    "RouteConfig",
    "create_app",
    "load_config",
    "parse_config",
]
