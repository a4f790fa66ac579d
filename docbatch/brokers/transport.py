"""The transport interface: the little docbatch needs of a message broker, and nothing more.

docbatch keeps its own job state (the ledger), retries and deadlines; a broker only carries batches to
workers and results back. So a transport offers two channels:

- The **work queue**, shared by every run and every worker on the broker: ``publish`` puts a batch on
  it at one of four priority levels (``models.Priority``: 0 low .. 3 critical; a higher level is
  delivered first), ``receive`` gives one ``Delivery`` to a worker, ``ack`` removes it once its results
  are sent. Delivery is **at-least-once**: a delivery that is not acked (its worker died) is delivered
  again, to any worker, after at most ``visibility_timeout_s`` (Redis Streams: claiming entries idle
  that long; SQS: the visibility timeout; RabbitMQ: at once, when the dead worker's connection closes).
  While a worker holds a delivery it calls ``extend`` every few seconds (a visibility heartbeat), so a
  long batch is not delivered twice. ``Delivery.deliveries`` counts how often the message has been
  delivered, this time included; ``dead_letter`` moves a message to the broker's dead-letter place.
- A **reply channel** per coordinator session: workers ``reply`` there (started, results, heartbeats)
  and the coordinator reads them with ``replies``. ``open_session``/``touch_session``/``close_session``
  keep a lease that expires on its own when the coordinator dies, so workers can tell a dead run's
  messages (``session_alive``) and drop them instead of working for nobody.

Bodies are opaque bytes of at most ``max_message_bytes`` (messages.py frames and splits). Every
transport passes the same conformance suite (tests/conformance/test_transports.py). Implementations:
memory.py (in-process, tests), redis.py, rabbitmq.py, sqs.py; urls.py picks one by URL scheme.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

PRIORITY_LEVELS = 4


@dataclass(frozen=True)
class TransportSettings:
    """Tunables shared by every transport.

    ``queue``: the work queue's name (replies, dead letters and leases are named after it);
    ``visibility_timeout_s``: seconds an unacked delivery stays with its worker without an ``extend``
    before it is delivered again; ``session_ttl_s``: seconds a session lease outlives its last touch;
    ``poll_interval_s``: how often a transport without blocking reads polls."""

    queue: str = "docbatch"
    visibility_timeout_s: float = 10.0
    session_ttl_s: float = 30.0
    poll_interval_s: float = 0.05


@dataclass(eq=False)
class Delivery:
    """One message handed to one worker. ``body``: the bytes published; ``priority``: its level;
    ``deliveries``: how many times it has been delivered, this one included (1 the first time);
    ``handle``: the transport's own reference (an entry id, a receipt handle, a delivery tag)."""

    body: bytes
    priority: int
    deliveries: int
    handle: object = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class BrokerStats:
    """The broker's own view of the work queue: ``depth`` messages waiting (all runs), ``in_flight``
    delivered and not acked (None when the broker does not say), ``dead_lettered`` messages in the
    dead-letter place."""

    depth: int
    in_flight: int | None
    dead_lettered: int


class Transport(Protocol):
    """A connection to one broker; used from one asyncio event loop. Raises ``BrokerUnavailable``
    (docbatch.errors) from ``connect`` when the broker cannot be reached, and from any other method
    when the connection is lost for good."""

    @property
    def name(self) -> str:
        """The broker's URL without its password, for logs and `docbatch status`."""
        ...

    @property
    def max_message_bytes(self) -> int:
        """The largest body ``publish`` and ``reply`` accept."""
        ...

    async def connect(self) -> None:
        """Reach the broker and declare what the work queue needs (idempotent)."""

    async def close(self) -> None:
        """Let the connection go. Deliveries not acked are delivered again (to another worker)."""

    async def publish(self, body: bytes, priority: int) -> None:
        """Put ``body`` on the work queue at ``priority`` (0..3); durable once this returns."""

    async def receive(self, wait_s: float) -> Delivery | None:
        """The next message, highest priority first, or None after ``wait_s`` seconds without one."""
        ...

    async def extend(self, deliveries: list[Delivery]) -> None:
        """Keep ``deliveries`` with this worker for another visibility timeout."""

    async def ack(self, delivery: Delivery) -> None:
        """Done with ``delivery``: it is never delivered again."""

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move ``delivery`` to the dead-letter place (``reason`` kept where the broker allows)."""

    async def open_session(self, session: str) -> None:
        """Create ``session``'s reply channel and lease."""

    async def touch_session(self, session: str) -> None:
        """Renew ``session``'s lease (the coordinator does this every few seconds)."""

    async def session_alive(self, session: str) -> bool:
        """Whether ``session``'s lease is current: False for a coordinator gone or closed."""
        ...

    async def close_session(self, session: str) -> None:
        """Remove ``session``'s reply channel and lease; later replies to it are dropped."""

    async def reply(self, session: str, body: bytes) -> None:
        """Send ``body`` to ``session``'s coordinator (dropped when the session is gone)."""

    async def replies(self, session: str, wait_s: float) -> list[bytes]:
        """The replies that arrived for ``session``, in order; waits up to ``wait_s`` for the first."""
        ...

    async def stats(self) -> BrokerStats:
        """The work queue's depth, messages in flight and dead letters."""
        ...
