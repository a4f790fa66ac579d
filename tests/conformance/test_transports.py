"""The conformance suite every transport passes: the same tests against the in-process transport and
real Redis, RabbitMQ and SQS (moto) servers on 127.0.0.1 (skipped, with the reason, when one cannot
be started here). What a test here asserts is what the broker executor and `docbatch worker` rely on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from docbatch.brokers.memory import take_down
from docbatch.brokers.transport import Transport, TransportSettings
from docbatch.brokers.urls import open_transport
from docbatch.errors import BrokerUnavailable
from tests.helpers.brokers import fresh_queue_name

KINDS = ["memory", "redis", "rabbitmq", "sqs"]
Factory = Callable[..., Awaitable[Transport]]


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def connect(
    kind: str, broker_servers: Callable[[str], object], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Factory]:
    """``await connect(visibility_s=..., session_ttl_s=...)`` -> a connected transport on this test's
    own queue; every one made is closed after the test."""
    queue = fresh_queue_name()
    if kind == "memory":
        base_url = f"memory://{queue}?queue={queue}"
    else:
        server = broker_servers(kind)
        for name, value in server.env.items():  # type: ignore[attr-defined]
            monkeypatch.setenv(name, value)
        base_url = server.url(queue)  # type: ignore[attr-defined]
    made: list[Transport] = []

    async def factory(visibility_s: float = 10.0, session_ttl_s: float = 30.0) -> Transport:
        settings = TransportSettings(queue=queue, visibility_timeout_s=visibility_s, session_ttl_s=session_ttl_s)
        transport = open_transport(base_url, settings)
        await transport.connect()
        made.append(transport)
        return transport

    yield factory
    for transport in made:
        with contextlib.suppress(Exception):
            await transport.close()


async def test_a_message_is_delivered_once_and_gone_after_ack(connect: Factory) -> None:
    transport = await connect()
    body = bytes(range(256)) * 4  # every byte value survives the trip
    await transport.publish(body, 1)
    delivery = await transport.receive(5)
    assert delivery is not None
    assert delivery.body == body
    assert delivery.deliveries == 1
    assert delivery.priority == 1
    await transport.ack(delivery)
    assert await transport.receive(1.5) is None
    assert (await transport.stats()).depth == 0


async def test_higher_priorities_are_delivered_first(connect: Factory) -> None:
    publisher = await connect()
    for priority, body in [(0, b"low"), (1, b"normal"), (3, b"critical"), (2, b"high"), (1, b"normal-2")]:
        await publisher.publish(body, priority)
    consumer = await connect()
    received = []
    for _ in range(5):
        delivery = await consumer.receive(5)
        assert delivery is not None
        received.append(delivery.body)
        await consumer.ack(delivery)
    assert received == [b"critical", b"high", b"normal", b"normal-2", b"low"]


async def test_a_delivery_its_worker_dropped_comes_back_counted(connect: Factory) -> None:
    holder = await connect(visibility_s=2)
    await holder.publish(b"batch", 2)
    first = await holder.receive(5)
    assert first is not None and first.deliveries == 1
    await holder.close()  # the worker is gone without acking (a SIGKILL closes its connection the same way)
    other = await connect(visibility_s=2)
    started = time.monotonic()
    again = None
    while again is None and time.monotonic() - started < 20:
        again = await other.receive(1)
    assert again is not None, "the message was not delivered again within 20 s"
    assert again.body == b"batch"
    assert again.deliveries == 2
    assert again.priority == 2
    await other.ack(again)
    assert await other.receive(3) is None


async def test_extending_keeps_a_delivery_with_its_worker(connect: Factory) -> None:
    holder = await connect(visibility_s=2)
    other = await connect(visibility_s=2)
    await holder.publish(b"long batch", 1)
    delivery = await holder.receive(5)
    assert delivery is not None
    until = time.monotonic() + 3.5  # well past the 2 s visibility timeout
    while time.monotonic() < until:
        await holder.extend([delivery])
        assert await other.receive(0.5) is None
    await holder.ack(delivery)
    assert await other.receive(3) is None


async def test_a_dead_letter_is_not_delivered_again_and_is_counted(connect: Factory) -> None:
    transport = await connect(visibility_s=2)
    await transport.publish(b"poison", 1)
    delivery = await transport.receive(5)
    assert delivery is not None
    await transport.dead_letter(delivery, "delivered 3 times")
    assert await transport.receive(4) is None
    assert (await transport.stats()).dead_lettered == 1


async def test_depth_counts_waiting_messages(connect: Factory) -> None:
    transport = await connect()
    for index in range(3):
        await transport.publish(b"m%d" % index, 1)
    assert (await transport.stats()).depth == 3
    delivery = await transport.receive(5)
    assert delivery is not None
    stats = await transport.stats()
    assert stats.depth == 2
    assert stats.in_flight in (1, None)


async def test_replies_reach_their_session_in_order_and_only_it(connect: Factory) -> None:
    coordinator = await connect()
    worker = await connect()
    await coordinator.open_session("s1")
    await coordinator.open_session("s2")
    for index in range(5):
        await worker.reply("s1", b"r%d" % index)
    await worker.reply("s2", b"other")
    got: list[bytes] = []
    deadline = time.monotonic() + 10
    while len(got) < 5 and time.monotonic() < deadline:
        got += await coordinator.replies("s1", 1)
    assert got == [b"r0", b"r1", b"r2", b"r3", b"r4"]
    assert await coordinator.replies("s2", 5) == [b"other"]
    assert await coordinator.replies("s1", 0.5) == []


async def test_a_closed_session_is_dead_and_drops_replies(connect: Factory) -> None:
    coordinator = await connect()
    worker = await connect()
    await coordinator.open_session("s1")
    assert await worker.session_alive("s1")
    await coordinator.close_session("s1")
    assert not await worker.session_alive("s1")
    await worker.reply("s1", b"late")  # dropped, not an error
    assert not await worker.session_alive("never-opened")


async def test_a_session_whose_coordinator_died_expires(connect: Factory) -> None:
    coordinator = await connect(session_ttl_s=2)
    worker = await connect(session_ttl_s=2)
    await coordinator.open_session("gone")
    await coordinator.touch_session("gone")
    assert await worker.session_alive("gone")
    await coordinator.close()  # died: no more touches, no close_session
    deadline = time.monotonic() + 20
    while await worker.session_alive("gone"):
        assert time.monotonic() < deadline, "the lease of a dead coordinator never expired"
        await asyncio.sleep(0.5)


async def test_the_largest_body_allowed_survives_both_channels(connect: Factory) -> None:
    transport = await connect()
    size = min(transport.max_message_bytes, 4 * 1024 * 1024)
    body = os.urandom(size)
    await transport.publish(body, 3)
    delivery = await transport.receive(10)
    assert delivery is not None and delivery.body == body
    await transport.ack(delivery)
    await transport.open_session("big")
    await transport.reply("big", body)
    assert await transport.replies("big", 10) == [body]


async def test_an_unreachable_broker_is_one_clear_error(
    kind: str, broker_servers: Callable[[str], object], monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = fresh_queue_name()
    if kind == "memory":
        take_down(queue, queue)
        url = f"memory://{queue}?queue={queue}"
    elif kind == "sqs":
        from tests.helpers.brokers import free_port

        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        url = f"sqs://{queue}"
    else:
        url = broker_servers(kind).unreachable_url  # type: ignore[attr-defined]
    transport = open_transport(url, TransportSettings(queue=queue))
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable) as raised:
        await transport.connect()
    assert time.monotonic() - started < 30
    message = str(raised.value)
    assert "\n" not in message
    assert "guest:guest" not in message  # the password never printed
