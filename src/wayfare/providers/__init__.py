"""Upstream providers behind one adapter interface: OpenAI-compatible servers and Anthropic's Messages API."""

from wayfare.providers.anthropic import AnthropicProvider
from wayfare.providers.base import ChunkStream, Endpoint, Provider
from wayfare.providers.errors import ProviderError, parse_retry_after
from wayfare.providers.openai_compat import OpenAIProvider

__all__ = [
    "AnthropicProvider",
    "ChunkStream",
    "Endpoint",
    "OpenAIProvider",
    "Provider",
    "ProviderError",
    "parse_retry_after",
]
