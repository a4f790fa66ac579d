"""Amazon SQS (``sqs://QUEUE_NAME``) through boto3, AWS's own SDK; region, credentials and endpoint come
from the standard AWS settings (``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``, profiles).

SQS has no priorities, so each level has its own standard queue: ``{queue}-low``, ``{queue}``,
``{queue}-high``, ``{queue}-critical``. ``receive`` short-polls them highest first (``WaitTimeSeconds=0``)
and then long-polls one of them for a second (rotating, so every level gets a long poll, which asks
all of SQS's hosts rather than a sample) before trying again. A delivery is hidden by its
``VisibilityTimeout``; ``extend`` is ``ChangeMessageVisibilityBatch`` (the visibility heartbeat); an
unacked delivery comes back after the timeout, ``ApproximateReceiveCount`` counting it. ``ack`` is
``DeleteMessage``; ``dead_letter`` sends the body to ``{queue}-dead`` (the reason as a message
attribute) and deletes it; a ``RedrivePolicy`` (maxReceiveCount 10) backs that up.

A session is a FIFO queue ``{queue}-reply-{session}.fifo`` (FIFO so that one sender's replies, one
message group per transport, arrive in order) whose tag ``docbatch-lease-until`` holds the lease's end
in epoch seconds (``TagQueue``). Bodies are base64 text (SQS bodies are XML-safe text). boto3 blocks,
so every call runs in this transport's own threads (long polls must not hold the loop's default
executor, which docbatch uses for file I/O); one client serves them all, as boto3 allows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from docbatch.brokers.transport import PRIORITY_LEVELS, BrokerStats, Delivery, TransportSettings
from docbatch.brokers.urls import redacted
from docbatch.errors import BrokerUnavailable

LEVEL_SUFFIXES = ("-low", "", "-high", "-critical")  # by Priority 0..3
LEASE_TAG = "docbatch-lease-until"
REDRIVE_AFTER = 10  # the worker dead-letters after 3 deliveries itself; this catches what it misses
LONG_POLL_S = 1  # a message at another level waits at most this long behind an idle long poll
# Each empty short poll costs a request (5-10 ms on moto and on AWS alike): a level found empty is
# skipped for this long, so a steady stream at one level costs one ReceiveMessage per delivery rather
# than one per level above it. A message newly put on a skipped level waits at most this long.
SKIP_EMPTY_S = 0.5
REPLY_POLL_MAX_S = 5
STALE_REPLY_QUEUE_S = 300  # a dead coordinator's reply queue is deleted this long after its lease ended
MISSING = ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue")
THREADS = 16  # several slots long-poll at once, with extend/ack/reply calls alongside


class SqsTransport:
    """``sqs://QUEUE_NAME``: see the module docstring."""

    # base64 makes 4 bytes of 3, and SQS counts body and attributes against 256 KiB (262,144 bytes):
    # 190 KiB encodes to 259,416 bytes, leaving room for attributes. (AWS allows 1 MiB since 2025,
    # but queues made before keep 256 KiB, and so may other SQS-compatible servers.)
    max_message_bytes = 190 * 1024

    def __init__(self, url: str, settings: TransportSettings) -> None:
        self.name = redacted(url)
        self.settings = settings
        self._visibility = max(1, math.ceil(settings.visibility_timeout_s))
        self._client: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._urls: list[str] = []  # by level
        self._dead_url = ""
        self._reply_urls: dict[str, str] = {}
        self._leases: dict[str, tuple[float, float]] = {}  # session -> (checked at, lease end), for reply()
        self._held: dict[str, str] = {}  # receipt handle -> queue URL, released at close()
        self._sender = uuid.uuid4().hex  # this transport's FIFO message group: its replies stay in order
        self._long_polls = itertools.cycle((1, 3, 1, 2, 1, 0))  # normal (the usual level) every other time
        self._empty_until = [0.0] * PRIORITY_LEVELS  # monotonic time until which a level found empty is skipped

    async def connect(self) -> None:
        if self._urls:
            return
        self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="docbatch-sqs")
        try:
            self._client = await asyncio.get_running_loop().run_in_executor(self._pool, self._make_client)
            await self._declare()
        except BrokerUnavailable:
            await self.close()
            raise
        except Exception as error:  # the client could not be made: no region, a malformed endpoint URL
            await self.close()
            raise BrokerUnavailable(f"{self.name}: {error}".replace("\n", " ")) from None

    async def _declare(self) -> None:
        """Create (or find) the dead-letter queue, then the level queues redriving to it."""
        dead = await self._create(f"{self.settings.queue}-dead")
        attributes = await self._call("get_queue_attributes", QueueUrl=dead, AttributeNames=["QueueArn"])
        redrive = {"deadLetterTargetArn": attributes["Attributes"]["QueueArn"], "maxReceiveCount": REDRIVE_AFTER}
        levels = [
            self._create(self.settings.queue + suffix, {"RedrivePolicy": json.dumps(redrive)})
            for suffix in LEVEL_SUFFIXES
        ]
        self._urls = list(await asyncio.gather(*levels))
        self._dead_url = dead

    def _make_client(self) -> Any:
        # Short connect timeout and few retries: a wrong endpoint is one clear error within seconds.
        config = Config(
            connect_timeout=3,
            read_timeout=REPLY_POLL_MAX_S + 5,
            retries={"max_attempts": 2, "mode": "standard"},
            max_pool_connections=THREADS,
        )
        session = boto3.session.Session()
        # botocore reads AWS_DEFAULT_REGION and profiles but not AWS_REGION, which other AWS SDKs use.
        region = session.region_name or os.environ.get("AWS_REGION") or None
        try:
            return session.client("sqs", region_name=region, config=config)
        except NoRegionError:
            raise RuntimeError("no AWS region is set: set AWS_REGION (or AWS_DEFAULT_REGION)") from None

    async def _create(self, name: str, attributes: dict[str, str] | None = None) -> str:
        """The URL of queue ``name``, created if missing (CreateQueue is idempotent for equal attributes;
        a queue made with others, e.g. the user's own redrive policy, is used as it is)."""
        made = await self._try(
            "create_queue", ("QueueAlreadyExists", "QueueNameExists"), QueueName=name, Attributes=attributes or {}
        )
        if made is None:
            made = await self._call("get_queue_url", QueueName=name)
        return str(made["QueueUrl"])

    async def _try(self, operation: str, tolerate: tuple[str, ...], **params: Any) -> dict[str, Any] | None:
        """``operation`` run in a thread; None for an error whose code is in ``tolerate``, any other
        error -> BrokerUnavailable (botocore has already retried it)."""
        if self._client is None or self._pool is None:
            raise BrokerUnavailable(f"{self.name}: not connected")
        call = partial(getattr(self._client, operation), **params)
        try:
            response: dict[str, Any] = await asyncio.get_running_loop().run_in_executor(self._pool, call)
            return response
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in tolerate:
                return None
            reason = str(error)
        except BotoCoreError as error:
            reason = str(error)
        reason = reason.replace("\n", " ").rstrip(": ")  # some errors end with an empty message
        raise BrokerUnavailable(f"{self.name} ({self._client.meta.endpoint_url}): {reason}")

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await self._try(operation, (), **params) or {}  # a response is never empty

    async def close(self) -> None:
        if self._pool is None:
            return
        held, self._held = self._held, {}
        if held and self._urls:  # let another worker have them now, not after the visibility timeout
            with contextlib.suppress(BrokerUnavailable, asyncio.TimeoutError):
                await asyncio.wait_for(self._change_visibility(list(held.items()), 0), 5)
        self._pool.shutdown(wait=False)
        self._pool, self._client, self._urls = None, None, []

    def _level_url(self, level: int) -> str:
        if not self._urls:
            raise BrokerUnavailable(f"{self.name}: not connected")
        return self._urls[level]

    async def publish(self, body: bytes, priority: int) -> None:
        level = min(max(priority, 0), PRIORITY_LEVELS - 1)
        await self._call("send_message", QueueUrl=self._level_url(level), MessageBody=base64.b64encode(body).decode())
        self._empty_until[level] = 0.0

    async def receive(self, wait_s: float) -> Delivery | None:
        give_up = time.monotonic() + wait_s
        while True:
            for level in reversed(range(PRIORITY_LEVELS)):
                if self._empty_until[level] > time.monotonic():
                    continue
                found = await self._receive_from(level, 0)
                if found is not None:
                    return found
                self._empty_until[level] = time.monotonic() + SKIP_EMPTY_S
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                return None
            if remaining >= LONG_POLL_S:  # SQS waits in whole seconds
                found = await self._receive_from(next(self._long_polls), LONG_POLL_S)
                if found is not None:
                    return found
            else:
                await asyncio.sleep(min(remaining, self.settings.poll_interval_s))

    async def _receive_from(self, level: int, wait_s: int) -> Delivery | None:
        url = self._level_url(level)
        response = await self._call(
            "receive_message",
            QueueUrl=url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=wait_s,
            VisibilityTimeout=self._visibility,
            AttributeNames=["ApproximateReceiveCount"],
        )
        for message in response.get("Messages", []):
            receipt = str(message["ReceiptHandle"])
            self._empty_until[level] = 0.0
            self._held[receipt] = url
            count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            return Delivery(_decoded(message["Body"]), level, count, handle=(url, receipt))
        return None

    async def extend(self, deliveries: list[Delivery]) -> None:
        await self._change_visibility([_handle(delivery)[::-1] for delivery in deliveries], self._visibility)

    async def _change_visibility(self, held: list[tuple[str, str]], seconds: int) -> None:
        """ChangeMessageVisibilityBatch for (receipt, queue URL) pairs, ten per call and queue. An
        entry that fails (acked meanwhile, or its timeout already ran out) is left as it is."""
        by_queue: dict[str, list[str]] = {}
        for receipt, url in held:
            by_queue.setdefault(url, []).append(receipt)
        for url, receipts in by_queue.items():
            for start in range(0, len(receipts), 10):
                entries = [
                    {"Id": str(index), "ReceiptHandle": receipt, "VisibilityTimeout": seconds}
                    for index, receipt in enumerate(receipts[start : start + 10])
                ]
                await self._try("change_message_visibility_batch", MISSING, QueueUrl=url, Entries=entries)

    async def ack(self, delivery: Delivery) -> None:
        url, receipt = _handle(delivery)
        self._held.pop(receipt, None)
        await self._try("delete_message", ("ReceiptHandleIsInvalid", *MISSING), QueueUrl=url, ReceiptHandle=receipt)

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        attributes = {
            "reason": {"DataType": "String", "StringValue": reason[:1000] or "-"},
            "priority": {"DataType": "Number", "StringValue": str(delivery.priority)},
        }
        body = base64.b64encode(delivery.body).decode()
        await self._call("send_message", QueueUrl=self._dead_url, MessageBody=body, MessageAttributes=attributes)
        await self.ack(delivery)

    def _reply_name(self, session: str) -> str:
        name = f"{self.settings.queue}-reply-{session}.fifo"
        if re.fullmatch(r"[A-Za-z0-9_-]+", session) and len(name) <= 80:
            return name
        # SQS names: at most 80 letters, digits, '-' and '_': any other session id goes by a digest.
        return f"{self.settings.queue}-reply-{hashlib.sha256(session.encode()).hexdigest()[:24]}.fifo"

    async def _reply_url(self, session: str) -> str | None:
        """The session's reply queue URL, None when it does not exist (URLs never change: cached)."""
        url = self._reply_urls.get(session)
        if url is None:
            found = await self._try("get_queue_url", MISSING, QueueName=self._reply_name(session))
            if found is None:
                return None
            url = self._reply_urls[session] = str(found["QueueUrl"])
        return url

    async def open_session(self, session: str) -> None:
        attributes = {
            "FifoQueue": "true",
            # Deduplication and throughput per message group (per sender): SQS's high-throughput FIFO mode.
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
        }
        self._reply_urls[session] = await self._create(self._reply_name(session), attributes)
        await self.touch_session(session)
        await self._delete_stale_reply_queues()

    async def touch_session(self, session: str) -> None:
        url = await self._reply_url(session)
        if url is None:
            return
        lease_end = time.time() + self.settings.session_ttl_s
        if await self._try("tag_queue", MISSING, QueueUrl=url, Tags={LEASE_TAG: f"{lease_end:.3f}"}) is not None:
            self._leases[session] = (time.monotonic(), lease_end)

    async def _lease_end(self, url: str) -> float | None:
        """The lease end tagged on reply queue ``url``; None when the queue or its tag is gone."""
        tags = await self._try("list_queue_tags", MISSING, QueueUrl=url)
        if tags is None:
            return None
        with contextlib.suppress(KeyError, ValueError):
            return float(tags.get("Tags", {})[LEASE_TAG])
        return None

    async def session_alive(self, session: str) -> bool:
        url = await self._reply_url(session)
        lease_end = None if url is None else await self._lease_end(url)
        self._leases[session] = (time.monotonic(), lease_end or 0.0)
        return lease_end is not None and lease_end > time.time()

    async def close_session(self, session: str) -> None:
        url = await self._reply_url(session)
        self._reply_urls.pop(session, None)
        self._leases.pop(session, None)
        if url is not None:
            # The lease ends first: AWS may take up to 60 s to delete a queue, and it is dead meanwhile.
            await self._try("tag_queue", MISSING, QueueUrl=url, Tags={LEASE_TAG: "0"})
            await self._try("delete_queue", MISSING, QueueUrl=url)

    async def _delete_stale_reply_queues(self) -> None:
        """Delete reply queues of this work queue whose lease ended long ago (their coordinator died)."""
        listed = await self._call("list_queues", QueueNamePrefix=f"{self.settings.queue}-reply-", MaxResults=1000)
        for url in listed.get("QueueUrls", []):
            lease_end = await self._lease_end(url)
            if lease_end is not None and lease_end < time.time() - STALE_REPLY_QUEUE_S:
                await self._try("delete_queue", MISSING, QueueUrl=url)

    async def reply(self, session: str, body: bytes) -> None:
        url = await self._reply_url(session)
        if url is None:
            return
        checked, lease_end = self._leases.get(session, (0.0, 0.0))
        if lease_end <= time.time() and time.monotonic() - checked > 1.0:  # re-read an ended lease once a second
            lease_end = await self._lease_end(url) or 0.0
            self._leases[session] = (time.monotonic(), lease_end)
        if lease_end <= time.time():
            return  # the coordinator is gone or closed the session
        await self._try(
            "send_message",
            MISSING,
            QueueUrl=url,
            MessageBody=base64.b64encode(body).decode(),
            MessageGroupId=self._sender,
            MessageDeduplicationId=uuid.uuid4().hex,  # the same on botocore's retries of this call
        )

    async def replies(self, session: str, wait_s: float) -> list[bytes]:
        give_up = time.monotonic() + wait_s
        url = await self._reply_url(session)
        while url is not None:
            remaining = give_up - time.monotonic()
            wait = min(max(int(remaining), 0), REPLY_POLL_MAX_S)
            response = await self._try(
                "receive_message", MISSING, QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            )
            messages = [] if response is None else response.get("Messages", [])
            if messages:
                entries = [{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(messages)]
                await self._try("delete_message_batch", MISSING, QueueUrl=url, Entries=entries)
                return [_decoded(message["Body"]) for message in messages]
            if response is None or give_up - time.monotonic() <= 0:
                break
            if wait == 0:
                await asyncio.sleep(min(remaining, self.settings.poll_interval_s))
        await asyncio.sleep(max(0.0, give_up - time.monotonic()))  # no such session: wait as asked
        return []

    async def stats(self) -> BrokerStats:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        answers = await asyncio.gather(
            *(
                self._call("get_queue_attributes", QueueUrl=url, AttributeNames=names)
                for url in [*self._urls, self._dead_url]
            )
        )
        counts = [(int(a["Attributes"][names[0]]), int(a["Attributes"][names[1]])) for a in answers]
        levels, dead = counts[:-1], counts[-1]
        return BrokerStats(
            depth=sum(waiting for waiting, _ in levels),
            in_flight=sum(hidden for _, hidden in levels),
            dead_lettered=dead[0],
        )


def _decoded(text: str) -> bytes:
    """A body's bytes; one not written by this transport is passed on as its text, for the reader's own
    checks of framing to refuse (and dead-letter) rather than failing every receive."""
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return text.encode()


def _handle(delivery: Delivery) -> tuple[str, str]:
    """(queue URL, receipt handle) of a delivery this transport made."""
    handle: tuple[str, str] = delivery.handle  # type: ignore[assignment]
    return handle
