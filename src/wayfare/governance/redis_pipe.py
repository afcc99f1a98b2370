"""Lua scripts on one long-lived Redis connection, pipelined: the transport of ``RedisGate``'s one call per request.

A redis-py client call checks a connection out of the pool, packs the command through its generic encoder, sends,
parses and returns the connection: about 60-80 µs of CPU per call on the project VM, the bulk of governance's cost
on Redis. ``ScriptPipe`` keeps ONE connection (made by the client's own connection class with the client's settings:
address, auth, db, TLS, protocol), packs each ``EVALSHA`` once with redis-py's packer, writes every call issued in
one event-loop iteration in one write, and a reader task hands the replies to the callers in order (Redis answers a
connection's commands in the order they were sent). With 32 requests in flight, many calls share one write and one read.

Failure behaviour is the client's: an unreachable Redis raises ``redis.exceptions.ConnectionError`` (after the
connection's own connect retries); when the connection breaks, every call waiting on it fails with ``ConnectionLost``
(a ``ConnectionError``: whether Redis ran it is unknown) and the next call reconnects; calls that get no reply for
one to two ``socket_timeout`` periods fail with redis-py's ``TimeoutError`` and the connection is dropped. A Redis
error reply fails only its own call (``NoScriptError`` is answered by loading the script and sending the call
again: NOSCRIPT means it did not run).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = str | bytes | int | float


class ConnectionLost(RedisConnectionError):
    """The connection broke with this call in flight: Redis may or may not have run it."""


_PACKER = Connection()  # type: ignore[no-untyped-call]  # never connected: only its encoder (UTF-8) and packer are used


def pack(*args: Arg) -> bytes:
    """One command in the Redis protocol, packed by redis-py (an array of bulk strings; str as UTF-8)."""
    return b"".join(_PACKER.pack_command(*args))  # type: ignore[no-untyped-call]


@dataclass(eq=False)
class _Link:
    """One connection and the calls sent on it, oldest first."""

    conn: Any
    timeout: float | None = None
    """The client's socket_timeout (the watchdog's period)."""
    waiting: deque[asyncio.Future[Any]] = field(default_factory=deque)
    out: list[bytes] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None
    writer: asyncio.Task[None] | None = None
    replies: int = 0
    watchdog: asyncio.TimerHandle | None = None


class ScriptPipe:
    """``await pipe.evalsha(script, keys, args)`` on one pipelined connection of ``client``'s pool settings."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._link: _Link | None = None
        self._lock: asyncio.Lock | None = None
        self._shas: dict[str, bytes] = {}

    def sha(self, script: str) -> bytes:
        sha = self._shas.get(script)
        if sha is None:
            sha = self._shas[script] = hashlib.sha1(script.encode()).hexdigest().encode()
        return sha

    async def evalsha(self, script: str, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """The script's reply; loads the script when Redis does not know it."""
        command = pack(b"EVALSHA", self.sha(script), len(keys), *keys, *args)
        try:
            return await self.call(command)
        except NoScriptError:
            await self.call(pack(b"SCRIPT", b"LOAD", script))
            return await self.call(command)

    async def call(self, command: bytes) -> Any:
        """Send one packed command and await its reply. Alone on the connection (a quiet gateway) it is written at
        once; otherwise it joins this loop iteration's other calls in one write."""
        link = self._link
        if link is None:
            link = await self._connect()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        link.waiting.append(fut)
        if len(link.waiting) == 1 and link.writer is None:
            try:  # does not suspend unless the socket's buffer is full
                await link.conn.send_packed_command(command, check_health=False)
            except Exception as exc:
                self._broken(link, exc)
        else:
            link.out.append(command)
            if link.writer is None:  # the first of this iteration's calls: one write once the others are queued
                link.writer = asyncio.get_running_loop().create_task(self._write(link))
        return await fut

    async def _connect(self) -> _Link:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._link is None:
                pool = self.client.connection_pool
                # no per-read/per-write timeout on this connection (redis-py wraps each in a timer or a task):
                # the watchdog applies the client's socket_timeout to the calls instead
                timeout = pool.connection_kwargs.get("socket_timeout")
                conn = pool.connection_class(**{**pool.connection_kwargs, "socket_timeout": None})
                await asyncio.wait_for(conn.connect(), timeout)
                link = _Link(conn, timeout=timeout)
                link.reader = asyncio.get_running_loop().create_task(self._read(link))
                self._link = link
                self._watch(link, 0, False)
            return self._link

    def _watch(self, link: _Link, replies: int, waiting: bool) -> None:
        """Every ``socket_timeout`` s (the client's; none: no watchdog): calls that were waiting at the last look
        and saw no reply since fail, and the connection is dropped (a hung Redis costs at most 2 x the timeout)."""
        timeout = link.timeout
        if link is not self._link or not timeout:
            return
        if waiting and link.waiting and link.replies == replies:
            # the calls fail with redis-py's TimeoutError (not ConnectionLost: a hung Redis is not worth a retry)
            self._broken(link, RedisTimeoutError(f"no reply from Redis within {timeout} s"))  # the reader disconnects
            return
        link.watchdog = asyncio.get_running_loop().call_later(
            timeout, self._watch, link, link.replies, bool(link.waiting)
        )

    async def _write(self, link: _Link) -> None:
        data, link.out, link.writer = link.out, [], None
        if link is not self._link:  # broken meanwhile: its calls have failed already
            return
        try:
            await link.conn.send_packed_command(data, check_health=False)
        except Exception as exc:
            self._broken(link, exc)

    async def _read(self, link: _Link) -> None:
        try:
            while True:
                try:
                    reply = await link.conn.read_response()
                except ResponseError as exc:  # an error reply: only this call fails
                    reply = exc
                link.replies += 1
                fut = link.waiting.popleft()
                if fut.done():  # its caller was cancelled; the reply is still consumed in order
                    continue
                if isinstance(reply, Exception):
                    fut.set_exception(reply)
                else:
                    fut.set_result(reply)
        except BaseException as exc:
            self._broken(link, exc)
            with contextlib.suppress(Exception):
                await link.conn.disconnect(nowait=True)
            if isinstance(exc, asyncio.CancelledError):
                raise

    def _broken(self, link: _Link, exc: BaseException) -> None:
        """Fail every call waiting on ``link`` and let the next call open a new connection."""
        if self._link is link:
            self._link = None
        if link.watchdog is not None:
            link.watchdog.cancel()
        waiting, link.waiting, link.out = link.waiting, deque(), []
        for fut in waiting:
            if not fut.done():
                if isinstance(exc, RedisTimeoutError):
                    fut.set_exception(RedisTimeoutError(*exc.args))
                else:
                    err = ConnectionLost(f"Redis connection lost: {exc!r}")
                    err.__cause__ = exc if isinstance(exc, Exception) else None
                    fut.set_exception(err)
        if link.reader is not None and link.reader is not asyncio.current_task():
            link.reader.cancel()

    async def aclose(self) -> None:
        """Close the connection (calls still waiting fail with ConnectionError)."""
        link, self._link = self._link, None
        if link is None:
            return
        if link.writer is not None:
            with contextlib.suppress(Exception):
                await link.writer
        if link.reader is not None:
            link.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await link.reader
        await link.conn.disconnect()
