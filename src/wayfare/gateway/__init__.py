"""The OpenAI-compatible gateway server."""
