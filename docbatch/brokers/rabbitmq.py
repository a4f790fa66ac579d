"""The RabbitMQ transport (``amqp://USER:PASS@HOST:PORT/VHOST``, ``amqps://``) through aio-pika.

- Work queue: a durable classic queue named ``settings.queue`` with ``x-max-priority`` 3 (message
  priority = docbatch's level 0..3) and ``x-dead-letter-exchange`` ``{queue}.dead`` (a fanout exchange
  bound to the durable queue ``{queue}.dead``). Messages are persistent and published with publisher
  confirms, so ``publish`` returns once the broker has the message.
- ``receive`` takes from a consumer (``basic.consume``) whose ``basic.qos`` prefetch is ``prefetch``
  (default 1; `docbatch worker -j N` sets ``transport.prefetch = N`` before the first ``receive``). The
  consumer starts at the first ``receive``, so a transport that only publishes never holds messages.
  Deliveries buffered here count as unacked for the broker, hence prefetch = the worker's slots.
- Redelivery: a delivery stays with its channel until ``basic.ack``; when the channel or connection
  closes (a worker's exit or crash) the broker requeues it at once. There is no visibility timeout,
  so ``extend`` does nothing; the broker's ``consumer_timeout`` (30 min by default) closes a channel
  that holds a delivery unacked for longer.
- Delivery counts: a classic queue only flags a delivery ``redelivered``. Each message carries the
  header ``x-docbatch-deliveries`` (earlier deliveries, 0 when published). A delivery flagged
  redelivered is re-published with the header + 1 (publisher confirm) and then acked, never handed
  out; the copy comes back unflagged and is delivery number header + 1.
- ``dead_letter`` is ``basic.reject`` without requeue: the broker's own dead-lettering moves the
  message to ``{queue}.dead`` (its ``x-death`` header says ``rejected``; docbatch's reason is not kept).
- Sessions: replies go to the queue ``{queue}.reply.{session}`` (``x-expires`` = the session TTL, so a
  dead coordinator's queue goes away by itself) through the default exchange; the coordinator consumes
  it from ``open_session`` on, which keeps it from expiring while the coordinator's connection lives.
  The lease seen by workers is the auto-delete exchange ``{queue}.lease.{session}`` bound to that queue:
  the broker deletes it with the queue's last binding. ``session_alive`` declares that exchange
  passively, because a passive declare of the queue itself would reset the queue's expiry timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import unquote, urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError, ChannelNotFoundEntity, MessageProcessError
from aiormq.abc import FieldValue

from docbatch.brokers.transport import PRIORITY_LEVELS, BrokerStats, Delivery, TransportSettings
from docbatch.brokers.urls import redacted
from docbatch.errors import BrokerUnavailable

COUNT_HEADER = "x-docbatch-deliveries"
CONNECT_TIMEOUT_S = 8.0
REPLY_PREFETCH = 256  # replies buffered in the coordinator per session before the broker holds them back
# What a lost connection or a refusing broker raises through aio-pika/aiormq.
# aiormq and aio-pika log connection failures themselves; with no handler configured anywhere Python
# would print them on stderr beside docbatch's own one-line error. docbatch reports these itself.
for _library in ("aiormq", "aio_pika"):
    logging.getLogger(_library).addHandler(logging.NullHandler())

# RuntimeError: aio-pika raises it for a call on a connection that closed under it.
BROKER_ERRORS = (AMQPError, ChannelInvalidStateError, OSError, TimeoutError, RuntimeError)


class _Listener:
    """The coordinator's consumer on one session's reply queue, on a channel of its own (a 404 there
    closes only that channel)."""

    def __init__(self, channel: AbstractChannel) -> None:
        self.channel = channel
        self.messages: deque[AbstractIncomingMessage] = deque()
        self.arrived = asyncio.Event()

    async def take(self, message: AbstractIncomingMessage) -> None:
        # No await before the append: aiormq starts one task per delivery in order, so order is kept.
        self.messages.append(message)
        self.arrived.set()


class RabbitTransport:
    """``amqp://`` / ``amqps://``: see the module docstring."""

    max_message_bytes = 16 * 1024 * 1024  # the broker takes 128 MiB, but large messages stall its queues

    def __init__(self, url: str, settings: TransportSettings, *, prefetch: int = 1) -> None:
        parts = urlsplit(url)
        self._url = urlunsplit(parts._replace(query="", fragment=""))  # docbatch's query is not aio-pika's
        self._password = unquote(parts.password or "")
        self.name = redacted(self._url)
        self.settings = settings
        self.prefetch = prefetch
        self._connection: AbstractConnection | None = None
        self._channels: dict[str, AbstractChannel] = {}
        self._channel_lock = asyncio.Lock()
        self._probe_lock = asyncio.Lock()
        self._consumer_lock = asyncio.Lock()
        self._consuming: tuple[AbstractChannel, AbstractQueue, str] | None = None
        self._ready: asyncio.PriorityQueue[tuple[int, int, AbstractIncomingMessage]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._listeners: dict[str, _Listener] = {}

    # -- names, errors, channels -------------------------------------------------------------------

    def _reply_queue(self, session: str) -> str:
        return f"{self.settings.queue}.reply.{session}"

    def _lease(self, session: str) -> str:
        return f"{self.settings.queue}.lease.{session}"

    def _reason(self, error: BaseException) -> str:
        text = " ".join(str(error).split()) or type(error).__name__
        if "Connection.Close" in text:  # aiormq's words for a vhost the broker refuses to open
            vhost = unquote(urlsplit(self._url).path[1:]) or "/"
            text = f"the broker refused virtual host {vhost!r} (missing, or no access for this user)"
        return text.replace(self._password, "***") if self._password else text

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except BROKER_ERRORS as error:
            raise BrokerUnavailable(f"{self.name}: {doing} failed: {self._reason(error)}") from error

    def _conn(self) -> AbstractConnection:
        connection = self._connection
        if connection is None or connection.is_closed:
            raise BrokerUnavailable(f"{self.name}: the connection is closed or was lost")
        return connection

    async def _channel(self, key: str, confirms: bool = False) -> AbstractChannel:
        """The channel kept under ``key``, reopened when the broker closed it (a channel error)."""
        channel = self._channels.get(key)
        if channel is not None and not channel.is_closed:
            return channel
        async with self._channel_lock:
            channel = self._channels.get(key)
            if channel is None or channel.is_closed:
                # on_return_raises: a mandatory publish the broker cannot route raises, not vanishes
                channel = self._conn().channel(publisher_confirms=confirms, on_return_raises=confirms)
                await channel.initialize()
                self._channels[key] = channel
            return channel

    @contextlib.asynccontextmanager
    async def _probe(self) -> AsyncIterator[AbstractChannel]:
        """The channel for declares, passive declares and deletes, one caller at a time: a passive
        declare of something missing closes the channel (AMQP 404), so it must not be shared."""
        async with self._probe_lock:
            yield await self._channel("probe")

    # -- connection and the work queue ---------------------------------------------------------------

    async def connect(self) -> None:
        if self._connection is not None and not self._connection.is_closed:
            return
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                self._connection = await aio_pika.connect(self._url, timeout=CONNECT_TIMEOUT_S)
                await self._declare_work_queue()
        except BROKER_ERRORS as error:
            await self._drop()
            reason = "no answer" if isinstance(error, TimeoutError) else self._reason(error)
            raise BrokerUnavailable(f"{self.name}: cannot connect: {reason}") from None

    async def _declare_work_queue(self) -> None:
        queue, dead = self.settings.queue, f"{self.settings.queue}.dead"
        async with self._probe() as channel:
            exchange = await channel.declare_exchange(dead, aio_pika.ExchangeType.FANOUT, durable=True)
            await (await channel.declare_queue(dead, durable=True)).bind(exchange)
            arguments: dict[str, FieldValue] = {"x-max-priority": PRIORITY_LEVELS - 1, "x-dead-letter-exchange": dead}
            await channel.declare_queue(queue, durable=True, arguments=arguments)

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        self._channels.clear()
        self._listeners.clear()
        self._consuming = None
        if connection is not None:
            with contextlib.suppress(*BROKER_ERRORS, RuntimeError):
                await connection.close()

    async def close(self) -> None:
        if self._connection is None:
            return
        with contextlib.suppress(*BROKER_ERRORS, BrokerUnavailable):
            await self._return_unseen()
        await self._drop()  # the broker requeues every delivery still unacked on it, at once

    async def _return_unseen(self) -> None:
        """Deliveries buffered here but never handed out would come back flagged redelivered and be
        counted once more: stop the consumer and re-publish them uncounted (a graceful close only)."""
        if self._consuming is None or self._consuming[0].is_closed:
            return
        await self._consuming[1].cancel(self._consuming[2])  # after Cancel-Ok nothing more arrives
        for _ in range(3):  # deliveries before Cancel-Ok reach _on_work through a task of aiormq's, then aio-pika's
            await asyncio.sleep(0)
        while not self._ready.empty():
            message = self._ready.get_nowait()[2]
            if not _stale(message):
                await self._publish(message.body, message.priority or 0, _count(message))
                await message.ack()

    async def _publish(self, body: bytes, priority: int, deliveries: int) -> None:
        message = aio_pika.Message(
            body,
            priority=min(max(priority, 0), PRIORITY_LEVELS - 1),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers={COUNT_HEADER: deliveries},
        )
        channel = await self._channel("publish", confirms=True)
        await channel.default_exchange.publish(message, routing_key=self.settings.queue, mandatory=True)

    async def publish(self, body: bytes, priority: int) -> None:
        with self._errors("publish"):
            await self._publish(body, priority, 0)

    # -- receiving -----------------------------------------------------------------------------------

    async def _ensure_consumer(self) -> None:
        if self._consuming is not None and not self._consuming[0].is_closed:
            return
        async with self._consumer_lock:
            if self._consuming is not None and not self._consuming[0].is_closed:
                return
            channel = self._conn().channel(publisher_confirms=False)
            await channel.initialize()
            await channel.set_qos(prefetch_count=self.prefetch)
            queue = await channel.get_queue(self.settings.queue, ensure=False)
            tag = await queue.consume(self._on_work)
            self._consuming = (channel, queue, tag)

    async def _on_work(self, message: AbstractIncomingMessage) -> None:
        if not message.redelivered:
            self._ready.put_nowait((-(message.priority or 0), next(self._order), message))
            return
        # Requeued by the broker after its channel closed: count it by re-publishing a copy, then
        # ack this one. If that fails, put it back; it comes round again and is counted then.
        try:
            await self._publish(message.body, message.priority or 0, _count(message) + 1)
            await message.ack()
        except (*BROKER_ERRORS, BrokerUnavailable):
            with contextlib.suppress(*BROKER_ERRORS):
                await message.reject(requeue=True)

    async def receive(self, wait_s: float) -> Delivery | None:
        with self._errors("receive"):
            await self._ensure_consumer()
        give_up = asyncio.get_running_loop().time() + wait_s
        while True:
            try:
                if self._ready.empty():
                    remaining = give_up - asyncio.get_running_loop().time()
                    item = await asyncio.wait_for(self._ready.get(), max(remaining, 0.0))
                else:
                    item = self._ready.get_nowait()
            except TimeoutError:
                self._conn()  # raises when the wait ended because the connection went
                return None
            message = item[2]
            if _stale(message):  # its channel closed meanwhile: the broker has requeued it
                continue
            count = _count(message) + 1
            return Delivery(body=message.body, priority=-item[0], deliveries=count, handle=message)

    async def extend(self, deliveries: list[Delivery]) -> None:
        self._conn()  # nothing to renew: a delivery stays with its channel until acked or the channel closes

    async def _settle(self, delivery: Delivery, settle: Callable[[AbstractIncomingMessage], Awaitable[None]]) -> None:
        message = delivery.handle
        assert isinstance(message, AbstractIncomingMessage)
        self._conn()
        try:
            await settle(message)
        except MessageProcessError:
            return  # settled before
        except BROKER_ERRORS as error:
            # Its channel alone closed: the broker already requeued the message, nothing to settle.
            with self._errors("ack"):
                self._conn()
                if not _stale(message):
                    raise error

    async def ack(self, delivery: Delivery) -> None:
        await self._settle(delivery, lambda message: message.ack())

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        await self._settle(delivery, lambda message: message.reject(requeue=False))

    # -- sessions ------------------------------------------------------------------------------------

    async def open_session(self, session: str) -> None:
        ttl_ms = max(int(self.settings.session_ttl_s * 1000), 1)
        with self._errors("open session"):
            async with self._probe() as channel:
                queue = await channel.declare_queue(
                    self._reply_queue(session), durable=False, auto_delete=False, arguments={"x-expires": ttl_ms}
                )
                lease = await channel.declare_exchange(
                    self._lease(session), aio_pika.ExchangeType.FANOUT, durable=False, auto_delete=True
                )
                await queue.bind(lease)
            await self._listen(session)

    async def _listen(self, session: str) -> _Listener | None:
        """Consume ``session``'s reply queue (None when it is gone)."""
        listener = self._listeners.get(session)
        if listener is not None and not listener.channel.is_closed:
            return listener
        channel = self._conn().channel(publisher_confirms=False)
        await channel.initialize()
        await channel.set_qos(prefetch_count=REPLY_PREFETCH)
        try:
            queue = await channel.declare_queue(self._reply_queue(session), passive=True)
        except ChannelNotFoundEntity:
            return None
        listener = _Listener(channel)
        await queue.consume(listener.take)
        self._listeners[session] = listener
        return listener

    async def touch_session(self, session: str) -> None:
        with self._errors("touch session"):
            async with self._probe() as channel:
                # A passive declare resets the queue's x-expires timer; a lapsed lease is not revived.
                with contextlib.suppress(ChannelNotFoundEntity):
                    await channel.declare_queue(self._reply_queue(session), passive=True)

    async def session_alive(self, session: str) -> bool:
        with self._errors("session check"):
            async with self._probe() as channel:
                try:
                    await channel.declare_exchange(self._lease(session), passive=True)
                except ChannelNotFoundEntity:
                    return False
                return True

    async def close_session(self, session: str) -> None:
        listener = self._listeners.pop(session, None)
        with self._errors("close session"):
            if listener is not None and not listener.channel.is_closed:
                await listener.channel.close()
            async with self._probe() as channel:
                await channel.queue_delete(self._reply_queue(session))  # its lease exchange goes with it

    async def reply(self, session: str, body: bytes) -> None:
        with self._errors("reply"):
            channel = await self._channel("publish", confirms=True)
            # mandatory=False: a reply to a session whose queue is gone is dropped by the broker
            await channel.default_exchange.publish(
                aio_pika.Message(body), routing_key=self._reply_queue(session), mandatory=False
            )

    async def replies(self, session: str, wait_s: float) -> list[bytes]:
        with self._errors("replies"):
            listener = await self._listen(session)
        if listener is None:
            await asyncio.sleep(wait_s)
            return []
        if not listener.messages:
            listener.arrived.clear()
            try:
                await asyncio.wait_for(listener.arrived.wait(), wait_s)
            except TimeoutError:
                self._conn()
                return []
        taken = list(listener.messages)
        listener.messages.clear()
        if taken and not _stale(taken[-1]):
            with self._errors("replies"):
                await taken[-1].ack(multiple=True)  # this channel carries this session only
        return [message.body for message in taken]

    async def stats(self) -> BrokerStats:
        with self._errors("stats"):
            async with self._probe() as channel:
                work = await channel.declare_queue(self.settings.queue, passive=True)
                dead = await channel.declare_queue(f"{self.settings.queue}.dead", passive=True)
        depth = work.declaration_result.message_count or 0
        # AMQP reports ready messages only: how many are delivered and unacked it does not say.
        return BrokerStats(depth=depth, in_flight=None, dead_lettered=dead.declaration_result.message_count or 0)


def _count(message: AbstractIncomingMessage) -> int:
    """Earlier deliveries of ``message``, from its header (0 for a message published by another tool)."""
    value = (message.headers or {}).get(COUNT_HEADER, 0)
    return value if isinstance(value, int) and value >= 0 else 0


def _stale(message: AbstractIncomingMessage) -> bool:
    """Whether the channel ``message`` came on has closed (the broker then requeued it)."""
    try:
        message.channel  # noqa: B018 - aio-pika raises here for a closed channel
    except ChannelInvalidStateError:
        return True
    return False
