"""``ScriptPipe`` (RedisGate's transport) on the real Redis: concurrent calls share one connection and each gets its
own reply; an error reply, an unknown script, a cancelled caller or a killed connection affect only what they must."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wayfare.governance.budgets import BudgetScope, RedisLedger
from wayfare.governance.ratelimit import RedisRateLimiter
from wayfare.governance.redis_gate import RedisGate
from wayfare.governance.redis_pipe import ScriptPipe, pack
from wayfare.governance.service import connect_redis

# a script no other test loads (so the first call meets NOSCRIPT); errors when ARGV[1] is "boom"
_ECHO = f"""-- {uuid.uuid4().hex}
if ARGV[1] == 'boom' then return redis.error_reply('ERR boom') end
redis.call('INCR', KEYS[1])
return {{ARGV[1], tonumber(ARGV[2]) * 2}}
"""


def test_pack_is_the_redis_protocol() -> None:
    assert pack(b"SET", "k", 12, 0.5) == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$3\r\n0.5\r\n"
    assert pack("é") == b"*1\r\n$2\r\n\xc3\xa9\r\n"


@pytest.mark.services
def test_concurrent_calls_get_their_own_replies_on_one_connection(redis_url: str, redis_prefix: str) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(redis_url)
        pipe = ScriptPipe(client)
        key = redis_prefix + "echo"
        replies = await asyncio.gather(*(pipe.evalsha(_ECHO, [key], [f"r{i}", i]) for i in range(300)))
        assert replies == [[f"r{i}".encode(), 2 * i] for i in range(300)]  # NOSCRIPT on the first: loaded, resent
        assert int(await client.get(key)) == 300  # each ran exactly once
        # an error reply fails its own call only
        results = await asyncio.gather(
            *(pipe.evalsha(_ECHO, [key], ["boom" if i % 3 == 0 else "ok", i]) for i in range(30)),
            return_exceptions=True,
        )
        for i, result in enumerate(results):
            if i % 3 == 0:
                assert isinstance(result, ResponseError) and "boom" in str(result)
            else:
                assert result == [b"ok", 2 * i]
        clients = await client.client_list()
        mine = await pipe.call(pack("CLIENT", "ID"))
        assert sum(1 for c in clients if int(c["id"]) == mine) == 1
        await pipe.aclose()
        await client.aclose()

    asyncio.run(main())


@pytest.mark.services
def test_cancelled_callers_do_not_shift_replies(redis_url: str, redis_prefix: str) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(redis_url)
        pipe = ScriptPipe(client)
        key = redis_prefix + "c"
        await pipe.evalsha(_ECHO, [key], ["warm", 0])
        tasks = [asyncio.create_task(pipe.evalsha(_ECHO, [key], [f"t{i}", i])) for i in range(40)]
        await asyncio.sleep(0)  # queued and written
        for task in tasks[::2]:
            task.cancel()
        later = await asyncio.gather(*(pipe.evalsha(_ECHO, [key], [f"l{i}", i]) for i in range(10)))
        assert later == [[f"l{i}".encode(), 2 * i] for i in range(10)]
        for i, task in enumerate(tasks):
            if i % 2:
                assert await task == [f"t{i}".encode(), 2 * i]
            else:
                assert task.cancelled()
        await pipe.aclose()
        await client.aclose()

    asyncio.run(main())


@pytest.mark.services
def test_gate_survives_a_killed_connection_and_fails_when_redis_is_unreachable(
    redis_url: str, redis_prefix: str
) -> None:
    async def main() -> None:
        client = connect_redis(redis_url)
        ledger, limiter = RedisLedger(client, None, redis_prefix), RedisRateLimiter(client, 60.0, redis_prefix)
        gate = RedisGate(ledger, limiter, lease_s=0.0)  # exact: every admit is one script
        scope = BudgetScope("key", "kill", 10.0, "daily")
        assert await gate.admit([scope], 1.0, [("key:kill:rpm", 100)], []) is not None
        victim = await gate.pipe.call(pack("CLIENT", "ID"))
        with redis.Redis.from_url(redis_url) as admin:
            assert admin.client_kill_filter(_id=victim) == 1
        # the next admit finds the connection gone, reconnects and runs (once: the killed connection ran nothing)
        assert await gate.admit([scope], 1.0, [("key:kill:rpm", 100)], []) is not None
        assert await gate.pipe.call(pack("CLIENT", "ID")) != victim
        assert int(await client.get(redis_prefix + "rl:key:kill:rpm")) == 2
        assert await gate.ledger.committed(scope) == pytest.approx(2.0)
        await gate.aclose()
        await client.aclose()

        with socket.socket() as s:  # a port where nothing listens
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        down = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
        gate = RedisGate(RedisLedger(down, None, redis_prefix), RedisRateLimiter(down, 60.0, redis_prefix))
        with pytest.raises(RedisConnectionError):
            await gate.admit([scope], 1.0, [("key:kill:rpm", 100)], [])
        await gate.aclose()
        await down.aclose()

    asyncio.run(main())


def test_a_redis_that_stops_answering_fails_the_calls_within_twice_the_socket_timeout() -> None:
    async def main() -> None:
        handlers: list[asyncio.Task[None]] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            handlers.append(asyncio.current_task())  # type: ignore[arg-type]
            while data := await reader.read(65536):  # answers the connect handshake, then nothing
                if b"EVALSHA" not in data:
                    writer.write(b"+OK\r\n" * data.count(b"\r\n$7\r\nSETINFO\r\n"))

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0?protocol=2&socket_timeout=0.2")
        pipe = ScriptPipe(client)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        results = await asyncio.gather(*(pipe.evalsha("return 1", [], []) for _ in range(3)), return_exceptions=True)
        waited = loop.time() - t0
        assert all(isinstance(r, RedisTimeoutError) and "no reply" in str(r) for r in results)
        assert 0.2 <= waited < 1.0
        await pipe.aclose()
        await client.aclose()
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()

    asyncio.run(main())
