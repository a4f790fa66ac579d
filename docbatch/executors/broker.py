"""Broker executor: the same run through a message broker (`--executor redis://`, `amqp://`, `sqs://`).

The coordinator keeps everything it keeps for Dask: discovery, priorities, batching, retries, the
ledger, the outputs and the report. Each batch becomes one work message (a *hand-over*) on the
broker's work queue at the batch's priority; any `docbatch worker` takes it, runs its jobs under the
one supervisor (deadline, process-group kill, memory cap) and sends the results back on this run's
reply channel as they come. The coordinator writes the outputs, so a document processed twice (a
redelivery after a worker died) is written once, from the first result that arrived.

Delivery is at-least-once (brokers/transport.py). What bounds each failure:

- A worker that dies mid-batch: the broker delivers the message again to another worker (Redis and
  SQS after the visibility timeout, RabbitMQ at once); results already received are kept.
- A worker that is alive but wedged (it still heartbeats and holds the hand-over, but no result comes
  for ``--timeout`` + ``WEDGED_GRACE_S``): the coordinator gives up on the hand-over; its jobs fail as
  `timeout` (one attempt) and docbatch retries them in a new hand-over. Late results are ignored.
- A message that keeps killing workers: after ``MAX_DELIVERIES`` the worker that receives it puts it
  in the broker's dead-letter place and says so; its unfinished jobs fail as `crash`.
- The coordinator itself dies: its session lease expires, workers drop its remaining messages; the
  same command again resumes from the ledger in a new session (old results cannot reach it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field

from docbatch.brokers.messages import MessageError, Reassembler, Reply, WorkerInfo, WorkMessage, decode_reply, encode
from docbatch.brokers.transport import BrokerStats, Transport
from docbatch.brokers.urls import open_transport, redacted
from docbatch.errors import BrokerUnavailable, ConfigError, ExecutorLost
from docbatch.executors.base import JobControl, OutputTarget, StageListener, not_started, with_absolute_paths
from docbatch.models import ErrorKind, JobBatch, JobResult, JobSpec, JobState

MAX_DELIVERIES = 3
WEDGED_GRACE_S = 30.0
WORKER_SILENT_S = 8.0  # a worker not heard for this long is shown as gone
TICK_S = 1.0
UNATTENDED_S = 60.0
_log = logging.getLogger("docbatch")


@dataclass(eq=False)
class _Handover:
    """One batch on the broker, from publish to its last result."""

    identity: str
    specs: list[JobSpec]
    timeout_s: float
    done: asyncio.Future[None]
    results: dict[int, JobResult] = field(default_factory=dict)
    worker: str | None = None  # the worker that last said it started it
    last_progress: float = 0.0  # monotonic: its start or its latest result
    deliveries: int = 0


@dataclass
class _QueueCounts:
    published: int = 0
    redeliveries: int = 0
    dead_lettered: int = 0
    wedged: int = 0


class BrokerExecutor:
    """Runs batches on `docbatch worker` processes through a broker (see the module docstring)."""

    writes_outputs = False  # workers send extractions back; the coordinator writes the outputs

    def __init__(self, url: str, *, slots: int, memory_per_job_bytes: int | None = None, run_id: str = "") -> None:
        self.url = url
        self.name = f"broker {redacted(url)}"
        # Hand-overs in flight at once: enough to keep every worker slot busy with one batch queued
        # behind it, few enough that priorities are decided here rather than by arrival order.
        self.slots = slots
        self.batch_target_s = 0.5  # a hand-over costs a few ms of broker round trips
        self.stage_listener: StageListener | None = None
        self.memory_per_job_bytes = memory_per_job_bytes
        self.run_id = run_id
        self.session = uuid.uuid4().hex
        self._transport: Transport = open_transport(url)
        self._handovers: dict[str, _Handover] = {}
        self._workers: dict[str, tuple[WorkerInfo, float]] = {}
        self._counts = _QueueCounts()
        self._broker_stats: BrokerStats | None = None
        self._reassembler = Reassembler()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._lost: str | None = None
        self._started_at = self._warned_at = time.monotonic()

    @property
    def job_control(self) -> JobControl | None:
        """None: jobs run on the workers' machines, each under the worker's memory cap."""
        return None

    async def start(self) -> None:
        try:
            await self._transport.connect()
            await self._transport.open_session(self.session)
            self._broker_stats = await self._transport.stats()
        except BrokerUnavailable as error:
            raise ConfigError(str(error)) from error
        self._tasks = [asyncio.create_task(self._read_replies()), asyncio.create_task(self._keep_watch())]
        _log.info("broker: %s, session %s", self._transport.name, self.session)

    def stop_admitting(self) -> None:
        """Hand-overs no worker has started come back pending; started ones run to their end."""
        self._stopping = True
        for handover in list(self._handovers.values()):
            if handover.worker is None and not handover.done.done():
                handover.done.set_result(None)

    async def run_batch(self, specs: list[JobSpec], timeout_s: float, *, output: OutputTarget) -> list[JobResult]:
        """Publish ``specs`` as one hand-over (or several, when one would exceed the broker's message
        limit) and wait for every result. Raises ExecutorLost when the broker is gone."""
        if self._lost is not None:
            raise ExecutorLost(self._lost)
        if self._stopping:
            return [not_started(spec.source_id) for spec in specs]
        bodies = self._messages_for(with_absolute_paths(specs), timeout_s, output.format)
        parts = await asyncio.gather(*(self._hand_over(message, body) for message, body in bodies))
        return [result for part in parts for result in part]

    def _messages_for(
        self, specs: list[JobSpec], timeout_s: float, output_format: str
    ) -> list[tuple[WorkMessage, bytes]]:
        message = WorkMessage(
            session=self.session,
            run_id=self.run_id,
            handover=uuid.uuid4().hex,
            indices=list(range(len(specs))),
            batch=JobBatch(specs=specs, output_format=output_format),
            timeout_s=timeout_s,
            memory_per_job_bytes=self.memory_per_job_bytes,
        )
        body = encode(message)
        if len(body) <= self._transport.max_message_bytes or len(specs) == 1:
            return [(message, body)]
        half = len(specs) // 2  # too large for one message (SQS: 256 KiB): two hand-overs
        return self._messages_for(specs[:half], timeout_s, output_format) + self._messages_for(
            specs[half:], timeout_s, output_format
        )

    async def _hand_over(self, message: WorkMessage, body: bytes) -> list[JobResult]:
        specs = message.batch.specs
        handover = _Handover(message.handover, specs, message.timeout_s, asyncio.get_running_loop().create_future())
        self._handovers[handover.identity] = handover
        try:
            if self._stopping:  # the stop came while this hand-over was being prepared: not published
                return [not_started(spec.source_id) for spec in specs]
            try:
                await self._transport.publish(body, max(spec.priority for spec in specs))
            except BrokerUnavailable as error:
                self._lose(f"lost the broker: {error}")
                raise ExecutorLost(self._lost or str(error)) from error
            self._counts.published += 1
            self._tell_stages(specs, "queued")
            await handover.done
            if self._lost is not None and len(handover.results) < len(specs):
                raise ExecutorLost(self._lost)
            return [handover.results.get(index) or not_started(spec.source_id) for index, spec in enumerate(specs)]
        finally:
            self._handovers.pop(handover.identity, None)

    def _tell_stages(self, specs: list[JobSpec], stage: str) -> None:
        if self.stage_listener is not None:
            for spec in specs:
                self.stage_listener(spec.source_id, stage)

    async def _read_replies(self) -> None:
        while True:
            try:
                bodies = await self._transport.replies(self.session, 1.0)
            except BrokerUnavailable as error:
                self._lose(f"lost the broker: {error}")
                return
            for body in bodies:
                try:
                    whole = self._reassembler.add(body)
                    if whole is not None:
                        self._take(decode_reply(whole))
                except MessageError as error:
                    _log.warning("broker: ignored a reply that is not docbatch's: %s", error)

    def _take(self, reply: Reply) -> None:
        now = time.monotonic()
        self._workers[reply.worker.worker] = (reply.worker, now)
        handover = self._handovers.get(reply.handover or "")
        if handover is None or handover.done.done():
            return  # a heartbeat, or news of a hand-over already settled (a redelivery's duplicate)
        if reply.kind == "started":
            if handover.worker is not None or reply.deliveries > 1:
                self._counts.redeliveries += 1
                _log.info(
                    "broker: batch %s delivered again (delivery %d) to %s",
                    handover.identity[:8],
                    reply.deliveries,
                    reply.worker.worker,
                )
            handover.worker, handover.last_progress, handover.deliveries = reply.worker.worker, now, reply.deliveries
            self._tell_stages([spec for i, spec in enumerate(handover.specs) if i not in handover.results], "running")
        elif reply.kind == "results":
            handover.last_progress = now
            for index, result in reply.results:
                if 0 <= index < len(handover.specs):
                    handover.results.setdefault(index, result)  # the first result of a job counts
        elif reply.kind == "dead_lettered":
            self._counts.dead_lettered += 1
            self._fail_rest(handover, ErrorKind.CRASH, f"dead-lettered: {reply.reason}")
        if len(handover.results) == len(handover.specs) and not handover.done.done():
            handover.done.set_result(None)

    def _fail_rest(self, handover: _Handover, kind: ErrorKind, message: str) -> None:
        first = True
        for index, spec in enumerate(handover.specs):
            if index not in handover.results:
                said = message if first else f"not run: its batch ended early ({message})"
                handover.results[index] = JobResult(
                    source_id=spec.source_id, state=JobState.FAILED, error_kind=kind, message=said
                )
                first = False
        if not handover.done.done():
            handover.done.set_result(None)

    async def _keep_watch(self) -> None:
        """Renew the session lease, refresh the broker's statistics, give up on wedged hand-overs."""
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self._transport.touch_session(self.session)
                self._broker_stats = await self._transport.stats()
            except BrokerUnavailable as error:
                self._lose(f"lost the broker: {error}")
                return
            self._give_up_on_wedged(time.monotonic())
            self._warn_when_unattended(time.monotonic())

    def _warn_when_unattended(self, now: float) -> None:
        """Say so when batches wait and no worker has been heard for a while (none started yet?)."""
        waiting = any(handover.worker is None for handover in self._handovers.values())
        heard = max((seen for _, seen in self._workers.values()), default=self._started_at)
        if waiting and now - heard > UNATTENDED_S and now - self._warned_at > UNATTENDED_S:
            self._warned_at = now
            _log.warning(
                "broker: batches are waiting and no worker has been heard for %.0fs: start `docbatch worker %s`",
                now - heard,
                self._transport.name,
            )

    def _give_up_on_wedged(self, now: float) -> None:
        for handover in list(self._handovers.values()):
            if handover.worker is None or handover.done.done():
                continue
            holder = self._workers.get(handover.worker)
            if holder is None or now - holder[1] > WORKER_SILENT_S:
                continue  # its worker is gone: the broker delivers it again, the wait starts anew then
            if now - handover.last_progress > handover.timeout_s + WEDGED_GRACE_S:
                self._counts.wedged += 1
                silent = now - handover.last_progress
                message = f"worker {handover.worker} sent no result for {silent:.0f}s (over --timeout); gave up on it"
                self._fail_rest(handover, ErrorKind.TIMEOUT, message)

    def _lose(self, reason: str) -> None:
        if self._lost is None:
            self._lost = " ".join(reason.split())
        for handover in list(self._handovers.values()):
            if not handover.done.done():
                handover.done.set_result(None)

    def describe(self) -> dict[str, object]:
        """For `docbatch status` and the report: the broker, its live workers, and the queue."""
        now = time.monotonic()
        live = [info for info, seen in self._workers.values() if now - seen <= WORKER_SILENT_S]
        waiting = sum(1 for h in self._handovers.values() if h.worker is None)
        stats = self._broker_stats
        return {
            "executor": self.name,
            "broker": self._transport.name,
            "workers": len(live),
            "worker_list": [info.model_dump() for info in sorted(live, key=lambda info: info.worker)],
            "queue": {
                "waiting": waiting,
                "in_flight": len(self._handovers) - waiting,
                "published": self._counts.published,
                "redeliveries": self._counts.redeliveries,
                "dead_lettered": self._counts.dead_lettered,
                "given_up_wedged": self._counts.wedged,
                "broker_depth": stats.depth if stats else None,
                "broker_in_flight": stats.in_flight if stats else None,
                "broker_dead_letters": stats.dead_lettered if stats else None,
            },
        }

    async def close(self, *, cancel: bool = False) -> None:
        self._stopping = True
        for handover in list(self._handovers.values()):  # nothing more will come: unfinished jobs stay pending
            if not handover.done.done():
                handover.done.set_result(None)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        # Each step bounded: a broker that stopped answering must not keep the run from ending.
        with contextlib.suppress(Exception):
            self._broker_stats = await asyncio.wait_for(self._transport.stats(), 10)  # the report's last figures
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._transport.close_session(self.session), 10)  # queued messages are dropped
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._transport.close(), 10)
