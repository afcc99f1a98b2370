"""Which faults the mock upstream injects, and when."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

FAULT_KINDS: tuple[str, ...] = (
    "429",  # rate limited, with Retry-After / retry-after-ms headers
    "500",  # internal server error
    "503",  # service unavailable
    "529",  # overloaded (Anthropic's status)
    "reset",  # TCP connection reset before any response byte
    "timeout",  # the response does not come within the hang time
    "stream_cut",  # the connection drops mid-body (mid-stream when streaming)
    "malformed",  # 200 with a body that is not valid JSON (or a broken SSE event)
    "error_body",  # 200 with an OpenAI error object as the body
)


@dataclass
class FaultPlan:
    """Per-model fault queues. ``add(model, kind, times)`` injects ``kind`` on the next ``times`` requests for
    ``model`` (``times=-1``: on every request until cleared). ``model="*"`` matches any model. Thread-safe."""

    _queues: dict[str, deque[str]] = field(default_factory=dict)
    _always: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, model: str, kind: str, times: int = 1) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if times == 0 or times < -1:
            raise ValueError(f"times must be a positive count or -1 (always), got {times}")
        with self._lock:
            if times == -1:
                self._always[model] = kind
            else:
                self._queues.setdefault(model, deque()).extend([kind] * times)

    def clear(self, model: str | None = None) -> None:
        with self._lock:
            if model is None:
                self._queues.clear()
                self._always.clear()
            else:
                self._queues.pop(model, None)
                self._always.pop(model, None)

    def take(self, model: str) -> str | None:
        """The fault to inject for this request to ``model`` (consuming one queued fault), or None."""
        if not self._queues and not self._always:
            return None
        with self._lock:
            for key in (model, "*"):
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
                if key in self._always:
                    return self._always[key]
        return None
