"""Drop-in integrations with other gateways (``litellm``: a LiteLLM proxy hook applying Wayfare's routing)."""
