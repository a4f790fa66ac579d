"""An in-process transport (``memory://NAME``) for fast tests of the coordinator and the worker.

Brokers are kept by name in this process, so a coordinator and workers running in threads of one
test share a queue. It keeps the semantics of a real broker that the conformance suite checks:
priority order, redelivery of a delivery not extended within the visibility timeout, delivery
counts, a dead-letter list, session leases that expire. Nothing survives the process.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from docbatch.brokers.transport import PRIORITY_LEVELS, BrokerStats, Delivery, TransportSettings
from docbatch.errors import BrokerUnavailable

_brokers: dict[str, _MemoryBroker] = {}
_brokers_lock = threading.Lock()


@dataclass
class _Held:
    body: bytes
    priority: int
    deliveries: int
    visible_at: float


@dataclass
class _MemoryBroker:
    lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: list[deque[tuple[bytes, int]]] = field(default_factory=lambda: [deque() for _ in range(PRIORITY_LEVELS)])
    held: dict[int, _Held] = field(default_factory=dict)
    dead: list[tuple[bytes, str]] = field(default_factory=list)
    leases: dict[str, float] = field(default_factory=dict)
    replies: dict[str, deque[bytes]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=itertools.count)
    down: bool = False


def memory_broker(name: str) -> _MemoryBroker:
    with _brokers_lock:
        return _brokers.setdefault(name, _MemoryBroker())


def take_down(name: str, queue: str = "docbatch", *, down: bool = True) -> None:
    """Make broker ``name``'s queue unreachable (tests of a broker that goes away), or, with
    ``down=False``, reachable again."""
    memory_broker(f"{name}/{queue}").down = down


class MemoryTransport:
    """``memory://NAME``: see the module docstring."""

    max_message_bytes = 64 * 1024 * 1024

    def __init__(self, url: str, settings: TransportSettings) -> None:
        self.name = url.split("?", 1)[0]
        self.settings = settings
        self._broker = memory_broker(self.name.removeprefix("memory://") + "/" + settings.queue)

    def _check(self) -> _MemoryBroker:
        if self._broker.down:
            raise BrokerUnavailable(f"{self.name}: the broker is down")
        return self._broker

    async def connect(self) -> None:
        self._check()

    async def close(self) -> None:
        return None

    async def publish(self, body: bytes, priority: int) -> None:
        broker = self._check()
        with broker.lock:
            broker.waiting[min(max(priority, 0), PRIORITY_LEVELS - 1)].append((body, 0))

    async def receive(self, wait_s: float) -> Delivery | None:
        give_up = time.monotonic() + wait_s
        while True:
            found = self._take()
            if found is not None or time.monotonic() >= give_up:
                return found
            await asyncio.sleep(self.settings.poll_interval_s)

    def _take(self) -> Delivery | None:
        broker = self._check()
        now = time.monotonic()
        with broker.lock:
            for key, held in list(broker.held.items()):  # a holder that stopped extending: deliver again
                if held.visible_at <= now:
                    del broker.held[key]
                    broker.waiting[held.priority].appendleft((held.body, held.deliveries))
            for priority in reversed(range(PRIORITY_LEVELS)):
                if broker.waiting[priority]:
                    body, deliveries = broker.waiting[priority].popleft()
                    key = next(broker.ids)
                    visible_at = now + self.settings.visibility_timeout_s
                    broker.held[key] = _Held(body, priority, deliveries + 1, visible_at)
                    return Delivery(body=body, priority=priority, deliveries=deliveries + 1, handle=key)
        return None

    async def extend(self, deliveries: list[Delivery]) -> None:
        broker = self._check()
        with broker.lock:
            for delivery in deliveries:
                held = broker.held.get(delivery.handle)  # type: ignore[call-overload]
                if held is not None:
                    held.visible_at = time.monotonic() + self.settings.visibility_timeout_s

    async def ack(self, delivery: Delivery) -> None:
        broker = self._check()
        with broker.lock:
            broker.held.pop(delivery.handle, None)  # type: ignore[call-overload]

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        broker = self._check()
        with broker.lock:
            broker.held.pop(delivery.handle, None)  # type: ignore[call-overload]
            broker.dead.append((delivery.body, reason))

    async def open_session(self, session: str) -> None:
        broker = self._check()
        with broker.lock:
            broker.replies.setdefault(session, deque())
            broker.leases[session] = time.monotonic() + self.settings.session_ttl_s

    async def touch_session(self, session: str) -> None:
        broker = self._check()
        with broker.lock:
            if session in broker.leases:
                broker.leases[session] = time.monotonic() + self.settings.session_ttl_s

    async def session_alive(self, session: str) -> bool:
        broker = self._check()
        with broker.lock:
            return broker.leases.get(session, 0.0) > time.monotonic()

    async def close_session(self, session: str) -> None:
        broker = self._check()
        with broker.lock:
            broker.leases.pop(session, None)
            broker.replies.pop(session, None)

    async def reply(self, session: str, body: bytes) -> None:
        broker = self._check()
        with broker.lock:
            channel = broker.replies.get(session)
            if channel is not None:
                channel.append(body)

    async def replies(self, session: str, wait_s: float) -> list[bytes]:
        give_up = time.monotonic() + wait_s
        while True:
            broker = self._check()
            with broker.lock:
                channel = broker.replies.get(session)
                if channel:
                    taken = list(channel)
                    channel.clear()
                    return taken
            if time.monotonic() >= give_up:
                return []
            await asyncio.sleep(self.settings.poll_interval_s)

    async def stats(self) -> BrokerStats:
        broker = self._check()
        with broker.lock:
            depth = sum(len(level) for level in broker.waiting)
            return BrokerStats(depth=depth, in_flight=len(broker.held), dead_lettered=len(broker.dead))
