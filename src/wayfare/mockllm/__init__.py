"""A mock LLM upstream: OpenAI-compatible and Anthropic Messages endpoints with latency, faults and streaming.

Used by the gateway's tests and benchmark as a real HTTP server on 127.0.0.1 (``wayfare mock-upstream --port P``, or
:class:`MockUpstream` in a thread).
"""

from wayfare.mockllm.faults import FAULT_KINDS, FaultPlan
from wayfare.mockllm.runner import MockUpstream, ThreadedServer
from wayfare.mockllm.server import MockApp

__all__ = ["FAULT_KINDS", "FaultPlan", "MockApp", "MockUpstream", "ThreadedServer"]
