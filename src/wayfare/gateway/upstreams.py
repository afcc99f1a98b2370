"""The provider adapter for a configured model (one per ``models:`` entry)."""

from __future__ import annotations

from wayfare.gateway.config import ConfigError, ModelConfig
from wayfare.providers.anthropic import AnthropicProvider
from wayfare.providers.azure import AzureProvider
from wayfare.providers.base import Provider
from wayfare.providers.bedrock import BedrockProvider, BedrockSetupError
from wayfare.providers.gemini import GeminiProvider, VertexProvider
from wayfare.providers.google_auth import CredentialsError
from wayfare.providers.http import HttpClients
from wayfare.providers.openai_compat import OpenAIProvider


def make_provider(model: ModelConfig, client: HttpClients) -> Provider:
    if model.provider == "bedrock":  # credentials and region are resolved now: missing ones stop the startup
        try:
            return BedrockProvider.create(client, model.name, model.base_url or None, **model.aws_settings())
        except BedrockSetupError as exc:
            raise ConfigError(f"model {model.name!r} (provider bedrock): {exc}") from None
    if model.provider == "gemini":
        return GeminiProvider(client, model.base_url, model.resolved_api_key(), model.name)
    if model.provider == "vertex":
        try:
            location, creds = model.vertex_location or "us-central1", model.vertex_credentials
            return VertexProvider(client, model.base_url, model.name, project=model.vertex_project, location=location,
                                  credentials=creds)  # fmt: skip
        except CredentialsError as exc:
            raise ConfigError(f"model {model.name!r}: {exc}") from None
    assert model.base_url is not None  # the config requires it for the other providers
    name = f"{model.name} ({model.base_url})"
    if model.provider == "azure":
        assert model.api_version is not None  # the config requires it
        deployment = model.deployment or model.upstream_model
        return AzureProvider(client, model.base_url, model.resolved_api_key(), name, deployment=deployment,
                             api_version=model.api_version, auth=model.auth)  # fmt: skip
    cls = AnthropicProvider if model.provider == "anthropic" else OpenAIProvider
    return cls(client, model.base_url, model.resolved_api_key(), name=name)
