"""Redis transport (``redis://HOST:PORT/DB``, ``rediss://`` for TLS) on Redis Streams, through redis-py's
asyncio client. Needs Redis 6.2 or later (XAUTOCLAIM).

Work queue: one stream per priority level, ``{queue}:p3`` .. ``{queue}:p0``, each with the consumer
group ``workers`` (XGROUP CREATE ... MKSTREAM). Every transport is its own consumer (host:pid:random).
``receive`` first claims entries of the group's Pending Entries List idle for longer than the visibility
timeout (XAUTOCLAIM: their worker died), then reads new entries (XREADGROUP ``>``), levels from the
highest; when there is none it blocks (XREADGROUP BLOCK over every level) in slices of at most 1 s so
that idle entries keep being claimed meanwhile. ``extend`` resets an entry's idle time (XCLAIM to the
same consumer, min-idle 0, JUSTID: the delivery counter does not move); ``Delivery.deliveries`` is the
PEL's delivery counter (1 for a new entry; XAUTOCLAIM adds one). ``ack`` is XACK + XDEL in one
MULTI, so a stream holds only waiting and pending entries; ``dead_letter`` also XADDs the body, the
reason and the count to ``{queue}:dead``.

Sessions: the lease is the key ``{queue}:session:{id}`` (SET ... PX session_ttl); replies go to the
stream ``{queue}:reply:{id}`` (XADD while the lease exists, with a PEXPIRE so the stream of a dead
coordinator vanishes), read with XREAD BLOCK from the last id read and then XDELeted.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError, ResponseError

from docbatch.brokers.transport import PRIORITY_LEVELS, BrokerStats, Delivery, TransportSettings
from docbatch.brokers.urls import redacted
from docbatch.errors import BrokerUnavailable

GROUP = "workers"
BODY = b"body"
_SLICE_S = 1.0  # longest blocking read: idle entries are claimed (and a lost connection noticed) this often
_CONNECT_TIMEOUT_S = 5.0
_REPLIES_PER_READ = 1000
_MAX_CONNECTIONS = 64
_STALE_CONSUMER_MS = 3_600_000  # consumers with nothing pending and idle this long are forgotten at connect


Fields = dict[bytes, bytes]


def _entries(answer: Any) -> list[tuple[bytes, bytes, Fields]]:
    """(stream, entry id, fields) of an XREAD/XREADGROUP answer (redis-py: [[stream, [(id, fields)]]])."""
    return [(bytes(stream), bytes(entry_id), fields) for stream, items in answer or [] for entry_id, fields in items]


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]


class RedisTransport:
    """``redis://HOST:PORT/DB``: see the module docstring."""

    max_message_bytes = 64 * 1024 * 1024  # Redis allows 512 MB per string; 64 MiB keeps memory sane

    def __init__(self, url: str, settings: TransportSettings) -> None:
        bare = urlsplit(url)._replace(query="", fragment="").geturl()
        self.name = redacted(bare)
        self.settings = settings
        queue = settings.queue
        self._streams = [f"{queue}:p{level}" for level in range(PRIORITY_LEVELS)]
        self._level_of = {stream.encode(): level for level, stream in enumerate(self._streams)}
        self._dead = f"{queue}:dead"
        self._queue = queue
        self._consumer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._idle_ms = max(1, int(settings.visibility_timeout_s * 1000))
        self._scan_every_s = min(_SLICE_S, max(0.05, settings.visibility_timeout_s / 4))
        self._next_scan = 0.0  # monotonic time of the next XAUTOCLAIM pass; 0 = at the next receive
        self._leases: set[str] = set()  # sessions this instance opened (touch revives a lapsed lease)
        self._reply_cursor: dict[str, bytes] = {}  # last reply id read, per session
        self._reading: dict[str, asyncio.Lock] = {}
        # Concurrent calls each take a connection (a blocking read holds one up to _SLICE_S): past the
        # cap they wait for one instead of failing (redis-py's plain pool raises "Too many connections").
        pool = aioredis.BlockingConnectionPool.from_url(
            bare,
            max_connections=_MAX_CONNECTIONS,
            timeout=20,
            decode_responses=False,
            protocol=2,  # RESP2's reply shapes are the same in every redis-py since 5.0 (8.0 defaults to RESP3)
            socket_connect_timeout=_CONNECT_TIMEOUT_S,
            socket_timeout=_SLICE_S + 10.0,
            # Short backoff: a broker restart is ridden out, a broker gone is reported within seconds.
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), 3),
        )
        self._redis = aioredis.Redis.from_pool(pool)

    @asynccontextmanager
    async def _guard(self, doing: str) -> AsyncIterator[None]:
        """Turns a connection lost for good (after redis-py's retries), or a command refused, into
        BrokerUnavailable."""
        try:
            yield
        except (RedisError, OSError) as error:  # a refusal too (OOM, READONLY, NOPERM): the broker's state
            raise BrokerUnavailable(f"{self.name}: {doing}: {_one_line(error)}") from error

    async def connect(self) -> None:
        try:
            async with asyncio.timeout(2 * _CONNECT_TIMEOUT_S):
                await self._redis.ping()
                await self._check_version()
                await self._declare()
                await self._forget_stale_consumers()
        except TimeoutError as error:
            raise BrokerUnavailable(f"{self.name}: no answer within {2 * _CONNECT_TIMEOUT_S:.0f} s") from error
        except (RedisError, OSError) as error:
            raise BrokerUnavailable(f"{self.name}: {_one_line(error)}") from error

    async def _check_version(self) -> None:
        info = await self._redis.info("server")
        version = str(info.get("redis_version", ""))
        major_minor = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
        if len(major_minor) == 2 and major_minor < (6, 2):
            raise BrokerUnavailable(f"{self.name}: Redis {version} lacks XAUTOCLAIM; 6.2 or later is needed")

    async def _declare(self) -> None:
        for stream in self._streams:
            try:  # from id 0: entries published before any group existed are delivered too
                await self._redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    async def _forget_stale_consumers(self) -> None:
        # Each worker process is a new consumer; a consumer is only deleted with nothing pending,
        # since XGROUP DELCONSUMER drops its pending entries.
        for stream in self._streams:
            for consumer in await self._redis.xinfo_consumers(stream, GROUP):
                if consumer["pending"] == 0 and consumer["idle"] > _STALE_CONSUMER_MS:
                    await self._redis.xgroup_delconsumer(stream, GROUP, consumer["name"])

    async def close(self) -> None:
        with suppress(RedisError, OSError):
            await self._release_held()
        await self._redis.aclose()

    async def _release_held(self) -> None:
        """Makes what this consumer holds claimable at once (XCLAIM IDLE), as a closed RabbitMQ
        channel would; JUSTID keeps the delivery counter, which the next claim then increments."""
        for stream in self._streams:
            held = await self._redis.xpending_range(stream, GROUP, "-", "+", 10_000, consumername=self._consumer)
            ids: list[Any] = [entry["message_id"] for entry in held]
            if ids:
                await self._redis.xclaim(stream, GROUP, self._consumer, 0, ids, idle=self._idle_ms, justid=True)
            else:
                await self._redis.xgroup_delconsumer(stream, GROUP, self._consumer)

    async def publish(self, body: bytes, priority: int) -> None:
        if len(body) > self.max_message_bytes:
            raise ValueError(f"a {len(body)}-byte body exceeds {self.max_message_bytes} bytes")
        level = min(max(priority, 0), PRIORITY_LEVELS - 1)
        async with self._guard("publish"):
            await self._redis.xadd(self._streams[level], {BODY: body})

    async def receive(self, wait_s: float) -> Delivery | None:
        give_up = time.monotonic() + max(wait_s, 0.0)
        async with self._guard("receive"):
            try:
                return await self._receive(give_up)
            except ResponseError as error:
                await self._regroup(error)
                return await self._receive(give_up)

    async def _receive(self, give_up: float) -> Delivery | None:
        found = await self._claim_idle() or await self._read_new()
        while found is None:
            left = give_up - time.monotonic()
            if left < 0.001:  # BLOCK takes whole milliseconds, and BLOCK 0 waits forever
                return None
            found = await self._read_blocking(min(left, self._scan_every_s)) or await self._claim_idle()
        return found

    async def _regroup(self, error: ResponseError) -> None:
        """After NOGROUP (the streams were deleted: FLUSHDB, a restart without persistence), declares
        them again; any other refusal is raised."""
        if "NOGROUP" not in str(error):
            raise error
        await self._declare()

    async def _claim_idle(self) -> Delivery | None:
        """XAUTOCLAIM one entry idle past the visibility timeout, levels from the highest. COUNT 1
        examines only ~10 PEL entries per call, so each level is walked to the end of its cursor."""
        now = time.monotonic()
        if now < self._next_scan:
            return None
        self._next_scan = now + self._scan_every_s
        for level in reversed(range(PRIORITY_LEVELS)):
            stream, cursor = self._streams[level], b"0-0"
            while True:
                cursor, entries, *_ = await self._redis.xautoclaim(
                    stream, GROUP, self._consumer, self._idle_ms, cursor, count=1
                )
                for entry_id, fields in entries:
                    if fields is None or BODY not in fields:  # trimmed from the stream (Redis 6.2 lists those)
                        await self._redis.xack(stream, GROUP, entry_id)
                        continue
                    self._next_scan = 0.0  # more may be waiting: look again at the next receive
                    return await self._claimed(level, entry_id, fields[BODY])
                if cursor in (b"0-0", "0-0"):
                    break
        return None

    async def _claimed(self, level: int, entry_id: bytes, body: bytes) -> Delivery:
        pending = await self._redis.xpending_range(self._streams[level], GROUP, entry_id, entry_id, 1)
        deliveries = int(pending[0]["times_delivered"]) if pending else 2
        return Delivery(body=body, priority=level, deliveries=deliveries, handle=(level, entry_id))

    async def _read_new(self) -> Delivery | None:
        # One level per call: a read over every stream would take an entry from each of them.
        for level in reversed(range(PRIORITY_LEVELS)):
            stream: dict[Any, Any] = {self._streams[level]: ">"}
            for _stream, entry_id, fields in _entries(
                await self._redis.xreadgroup(GROUP, self._consumer, stream, count=1)
            ):
                return Delivery(body=fields[BODY], priority=level, deliveries=1, handle=(level, entry_id))
        return None

    async def _read_blocking(self, seconds: float) -> Delivery | None:
        """XREADGROUP BLOCK over every level. It may answer with an entry from several streams: the
        highest is delivered, the others are given back at once (see ``_give_back``)."""
        streams: dict[Any, Any] = {self._streams[level]: ">" for level in reversed(range(PRIORITY_LEVELS))}
        block_ms = max(1, int(seconds * 1000))
        got = await self._redis.xreadgroup(GROUP, self._consumer, streams, count=1, block=block_ms)
        taken = [(self._level_of[stream], entry_id, fields) for stream, entry_id, fields in _entries(got)]
        if not taken:
            return None
        taken.sort(key=lambda item: item[0], reverse=True)
        level, entry_id, fields = taken[0]
        for other_level, other_id, _fields in taken[1:]:
            await self._give_back(other_level, other_id)
        return Delivery(body=fields[BODY], priority=level, deliveries=1, handle=(level, entry_id))

    async def _give_back(self, level: int, entry_id: bytes) -> None:
        """An entry read but never handed out: XCLAIM IDLE makes it claimable now, RETRYCOUNT 0 so the
        claim that delivers it counts 1."""
        stream = self._streams[level]
        await self._redis.xclaim(
            stream, GROUP, self._consumer, 0, [entry_id], idle=self._idle_ms, retrycount=0, justid=True
        )
        self._next_scan = 0.0

    def _handle(self, delivery: Delivery) -> tuple[int, bytes]:
        handle = delivery.handle
        if not (isinstance(handle, tuple) and len(handle) == 2):
            raise ValueError(f"not a Redis delivery: {handle!r}")
        level, entry_id = handle
        return int(level), bytes(entry_id)

    async def extend(self, deliveries: list[Delivery]) -> None:
        by_level: dict[int, list[Any]] = {}
        for delivery in deliveries:
            level, entry_id = self._handle(delivery)
            by_level.setdefault(level, []).append(entry_id)
        if not by_level:
            return
        async with self._guard("extend"):
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for level, ids in by_level.items():
                        # An id already acked is not in the PEL any more and XCLAIM skips it.
                        pipe.xclaim(self._streams[level], GROUP, self._consumer, 0, ids, justid=True)
                    await pipe.execute()
            except ResponseError as error:
                await self._regroup(error)  # the entries went with the group: nothing to keep

    async def ack(self, delivery: Delivery) -> None:
        level, entry_id = self._handle(delivery)
        stream = self._streams[level]
        async with self._guard("ack"), self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        level, entry_id = self._handle(delivery)
        stream = self._streams[level]
        fields: dict[bytes, bytes | int | str] = {
            BODY: delivery.body,
            b"reason": reason,
            b"deliveries": delivery.deliveries,
            b"priority": level,
        }
        async with self._guard("dead_letter"), self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self._dead, fields)  # type: ignore[arg-type]  # redis-py's field type is invariant
            pipe.xack(stream, GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()

    def _lease_key(self, session: str) -> str:
        return f"{self._queue}:session:{session}"

    def _reply_key(self, session: str) -> str:
        return f"{self._queue}:reply:{session}"

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.settings.session_ttl_s * 1000))

    async def open_session(self, session: str) -> None:
        async with self._guard("open_session"):
            await self._redis.set(self._lease_key(session), b"1", px=self._ttl_ms)
        self._leases.add(session)

    async def touch_session(self, session: str) -> None:
        async with self._guard("touch_session"), self._redis.pipeline(transaction=False) as pipe:
            if session in self._leases:
                pipe.set(self._lease_key(session), b"1", px=self._ttl_ms)  # back even after a lapse
            else:
                pipe.pexpire(self._lease_key(session), self._ttl_ms)
            pipe.pexpire(self._reply_key(session), 2 * self._ttl_ms)
            await pipe.execute()

    async def session_alive(self, session: str) -> bool:
        async with self._guard("session_alive"):
            return bool(await self._redis.exists(self._lease_key(session)))

    async def close_session(self, session: str) -> None:
        async with self._guard("close_session"):
            await self._redis.delete(self._lease_key(session), self._reply_key(session))
        self._leases.discard(session)
        self._reply_cursor.pop(session, None)
        self._reading.pop(session, None)

    async def reply(self, session: str, body: bytes) -> None:
        if len(body) > self.max_message_bytes:
            raise ValueError(f"a {len(body)}-byte reply exceeds {self.max_message_bytes} bytes")
        key = self._reply_key(session)
        async with self._guard("reply"):
            if not await self._redis.exists(self._lease_key(session)):
                return  # nobody is listening: dropped
            # A close_session between EXISTS and XADD leaves a stream that the PEXPIRE soon removes.
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(key, {BODY: body})
                pipe.pexpire(key, 2 * self._ttl_ms)
                await pipe.execute()

    async def replies(self, session: str, wait_s: float) -> list[bytes]:
        key = self._reply_key(session)
        give_up = time.monotonic() + max(wait_s, 0.0)
        # Two readers of one session would read the same entries from the same cursor: one at a time.
        reading = self._reading.setdefault(session, asyncio.Lock())
        async with self._guard("replies"), reading:
            while True:
                left = give_up - time.monotonic()
                block = max(1, int(min(left, _SLICE_S) * 1000)) if left >= 0.001 else None
                last = self._reply_cursor.get(session, b"0-0")
                stream: dict[Any, Any] = {key: last}
                entries = _entries(await self._redis.xread(stream, count=_REPLIES_PER_READ, block=block))
                if entries:
                    ids = [entry_id for _stream, entry_id, _fields in entries]
                    self._reply_cursor[session] = ids[-1]
                    await self._redis.xdel(key, *ids)  # read once: keep the stream small
                    return [fields[BODY] for _stream, _entry_id, fields in entries]
                if block is None or left <= _SLICE_S:
                    return []

    async def stats(self) -> BrokerStats:
        async with self._guard("stats"):
            try:
                answers = await self._counts()
            except ResponseError as error:
                await self._regroup(error)
                answers = await self._counts()
        # Acked entries are deleted, so a stream holds exactly the waiting entries and the pending ones.
        lengths, pendings = answers[0:-1:2], answers[1:-1:2]
        in_flight = sum(int(pending["pending"]) for pending in pendings)
        depth = max(0, sum(int(length) for length in lengths) - in_flight)
        return BrokerStats(depth=depth, in_flight=in_flight, dead_lettered=int(answers[-1]))

    async def _counts(self) -> list[Any]:
        """XLEN and XPENDING of every level and XLEN of the dead letters, in one MULTI."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for stream in self._streams:
                pipe.xlen(stream)
                pipe.xpending(stream, GROUP)
            pipe.xlen(self._dead)
            answers: list[Any] = await pipe.execute()
        return answers
