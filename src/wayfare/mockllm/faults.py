"""Which faults the mock upstream injects, and when."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

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
    ``model`` (``times=-1``: on every request until cleared). ``model="*"`` matches any model. Thread-safe.
    ``set_rate(model, rate, kinds, seed)`` injects a kind drawn uniformly from ``kinds`` on a random ``rate`` share of
    the requests that no queued fault claimed (seeded, so a run is reproducible)."""

    _queues: dict[str, deque[str]] = field(default_factory=dict)
    _always: dict[str, str] = field(default_factory=dict)
    _rates: dict[str, tuple[float, tuple[str, ...], random.Random]] = field(default_factory=dict)
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

    def set_rate(
        self, model: str, rate: float, kinds: tuple[str, ...] | list[str] = FAULT_KINDS, seed: int = 0
    ) -> None:
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError(f"unknown fault kinds {unknown}; expected some of {', '.join(FAULT_KINDS)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        with self._lock:
            self._rates[model] = (rate, tuple(kinds), random.Random(seed))

    def clear(self, model: str | None = None) -> None:
        with self._lock:
            if model is None:
                self._queues.clear()
                self._always.clear()
                self._rates.clear()
            else:
                self._queues.pop(model, None)
                self._always.pop(model, None)
                self._rates.pop(model, None)

    def take(self, model: str) -> str | None:
        """The fault to inject for this request to ``model`` (consuming one queued fault), or None."""
        if not self._queues and not self._always and not self._rates:
            return None
        with self._lock:
            for key in (model, "*"):
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
                if key in self._always:
                    return self._always[key]
            for key in (model, "*"):
                if key in self._rates:
                    rate, kinds, rng = self._rates[key]
                    return rng.choice(kinds) if rng.random() < rate else None
        return None


async def reset_connection(send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
    """Abort the connection with a TCP RST (reaching uvicorn's transport through its bound ``send``)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionResetError("mock fault: connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    await asyncio.sleep(0)  # let connection_lost mark the request as disconnected
