"""Wayfare: an OpenAI-compatible LLM gateway with learned model routing, and the evaluator behind it."""

__version__ = "0.1.0"
