"""`docbatch worker URL`: takes batches from a broker and runs them under the one supervisor.

Each of ``-j`` slots takes one message at a time (so a worker never holds more than it can run; for
RabbitMQ the prefetch is the slot count), runs its jobs one after the other in the slot's supervised
child (the job's deadline from its start, process-group kill, crash classification, ``RLIMIT_AS`` per
job) and sends the results to the run's coordinator as they come, then acks. Every few seconds a
heartbeat keeps the held messages from being delivered again (the visibility heartbeat) and tells
each coordinator it works for that it is alive, what it holds and how fast it goes.

Messages are refused, never run, when they are not docbatch's (dead-lettered at once), when they
have been delivered ``MAX_DELIVERIES`` times already (dead-lettered, the coordinator told), or when
their coordinator's session has expired (dropped: nobody would take the results). A job that asks to
run a shell command (`--exec`) runs only on a worker started with ``--allow-exec``: whoever can
publish to the broker would otherwise run commands on every worker.

Stopping: the first SIGTERM/SIGINT drains (no new message; each slot finishes its current job, hands
the jobs it had not started back to the queue, and acks); a second one stops at once (the children
are killed and the broker delivers what was held again).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from docbatch.brokers.messages import (
    MessageError,
    Reply,
    WorkerInfo,
    WorkMessage,
    decode_work,
    encode,
    fragments,
)
from docbatch.brokers.transport import Delivery, Transport
from docbatch.errors import BrokerUnavailable
from docbatch.executors.base import RunningJob
from docbatch.executors.broker import MAX_DELIVERIES
from docbatch.executors.supervisor import JobSupervisor, SupervisorSettings
from docbatch.executors.worker_stderr import new_capture_folder, remove_capture_folder
from docbatch.models import ErrorKind, JobResult, JobSpec, JobState

HEARTBEAT_S = 2.0
FLUSH_S = 0.2  # results wait at most this long before they travel
SESSION_CHECK_S = 2.0
_log = logging.getLogger("docbatch")


@dataclass(frozen=True)
class WorkerOptions:
    """``concurrency``: slots (batches at once); ``memory_per_job_bytes``: RLIMIT_AS per job when the
    run sets none; ``allow_exec``: run `--exec` jobs."""

    concurrency: int
    memory_per_job_bytes: int | None = None
    allow_exec: bool = False


@dataclass(eq=False)
class _Slot:
    supervisor: JobSupervisor | None = None
    cap: int | None = None
    delivery: Delivery | None = None
    message: WorkMessage | None = None


@dataclass
class _Pace:
    """Jobs finished, and when, for documents/s over the last minute."""

    done: int = 0
    recent: deque[float] = field(default_factory=deque)

    def add(self, count: int) -> None:
        now = time.monotonic()
        self.done += count
        self.recent.extend([now] * count)
        while self.recent and now - self.recent[0] > 60:
            self.recent.popleft()

    def per_second(self) -> float:
        if not self.recent:
            return 0.0
        span = max(time.monotonic() - self.recent[0], 1.0)
        return round(len(self.recent) / span, 2)


class BrokerWorker:
    """One worker process's loop (see the module docstring)."""

    def __init__(self, transport: Transport, options: WorkerOptions) -> None:
        self.transport = transport
        self.options = options
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self._slots = [_Slot() for _ in range(options.concurrency)]
        self._pace = _Pace()
        self._sessions: dict[str, float] = {}  # session -> monotonic time last worked for
        self._alive_cache: dict[str, tuple[bool, float]] = {}
        self._draining = asyncio.Event()
        self._serial = itertools.count()
        self._stderr_folder = new_capture_folder()
        self._generation = 0  # connections made: a slot that lost the broker reconnects only once
        self._reconnecting = asyncio.Lock()

    def info(self) -> WorkerInfo:
        busy = sum(1 for slot in self._slots if slot.delivery is not None)
        return WorkerInfo(
            worker=self.identity,
            host=socket.gethostname(),
            pid=os.getpid(),
            slots=len(self._slots),
            busy=busy,
            done=self._pace.done,
            docs_per_s=self._pace.per_second(),
        )

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def drain(self) -> None:
        """Take no new message; each slot finishes its current job and hands the rest back."""
        self._draining.set()
        for slot in self._slots:
            if slot.supervisor is not None:
                slot.supervisor.stop_admitting()

    def kill_now(self) -> None:
        """Kill every running job at once (the second signal)."""
        for slot in self._slots:
            if slot.supervisor is not None:
                slot.supervisor.kill_current()

    async def serve(self) -> None:
        """Run until drained. Raises BrokerUnavailable only when the broker is lost for good."""
        heartbeat = asyncio.create_task(self._heartbeats())
        try:
            await asyncio.gather(*(self._run_slot(slot) for slot in self._slots))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            for slot in self._slots:
                if slot.supervisor is not None:
                    slot.supervisor.close()
            remove_capture_folder(self._stderr_folder)

    async def _run_slot(self, slot: _Slot) -> None:
        while not self._draining.is_set():
            generation = self._generation
            try:
                delivery = await self.transport.receive(1.0)
                if delivery is None:
                    continue
                if self._draining.is_set():  # taken just as the drain began: give it straight back
                    await self._hand_back(delivery, None, [])
                    return
                await self._take(slot, delivery)
            except BrokerUnavailable as error:
                # What this slot held comes back to the queue by the broker's own redelivery.
                await self._reconnect(generation, error)

    async def _reconnect(self, generation: int, error: BrokerUnavailable) -> None:
        """Connect again (once for all slots) every 2 s until the broker answers or the worker drains."""
        async with self._reconnecting:
            if generation != self._generation:
                return  # another slot already reconnected
            _log.warning("worker: lost the broker (%s); reconnecting every 2 s", error)
            while not self._draining.is_set():
                await asyncio.sleep(2.0)
                with contextlib.suppress(Exception):
                    await self.transport.close()
                try:
                    await self.transport.connect()
                except BrokerUnavailable:
                    continue
                _log.warning("worker: reconnected to %s", self.transport.name)
                break
            self._generation += 1

    async def _take(self, slot: _Slot, delivery: Delivery) -> None:
        try:
            message = decode_work(delivery.body)
        except MessageError as error:
            _log.warning("worker: dead-lettered a message that is not docbatch work: %s", error)
            await self.transport.dead_letter(delivery, str(error))
            return
        deliveries = message.prior_deliveries + delivery.deliveries
        if deliveries > MAX_DELIVERIES:
            reason = f"delivered {deliveries} times; each worker that took it before was lost"
            _log.warning("worker: dead-lettered batch %s: %s", message.handover, reason)
            await self.transport.dead_letter(delivery, reason)
            await self._reply(
                message.session,
                Reply(kind="dead_lettered", worker=self.info(), handover=message.handover, reason=reason),
            )
            return
        if not await self._session_alive(message.session):
            _log.info("worker: dropped batch %s: its run (session %s) is gone", message.handover, message.session)
            await self.transport.ack(delivery)
            return
        slot.delivery, slot.message = delivery, message
        self._sessions[message.session] = time.monotonic()
        try:
            await self._reply(
                message.session,
                Reply(kind="started", worker=self.info(), handover=message.handover, deliveries=deliveries),
            )
            not_started = await self._run(slot, message)
            if not_started:
                await self._hand_back(delivery, message, not_started, deliveries)
            else:
                await self.transport.ack(delivery)
        finally:
            slot.delivery, slot.message = None, None

    async def _run(self, slot: _Slot, message: WorkMessage) -> list[int]:
        """Run the batch in the slot's supervisor, results travelling every FLUSH_S while it runs; the
        positions (in ``message``) of the jobs not started because the worker is draining."""
        supervisor = self._supervisor(slot, message.memory_per_job_bytes or self.options.memory_per_job_bytes)
        refused = self._refuse_exec(message.batch.specs)
        runs = [index for index in range(len(message.batch.specs)) if index not in refused]
        ready = [(message.indices[index], result) for index, result in refused.items()]
        lock = threading.Lock()

        def heard(index: int, result: JobResult) -> None:  # from the supervisor's thread
            if result.state is not JobState.PENDING:
                with lock:
                    ready.append((message.indices[runs[index]], result))

        async def flush() -> None:
            with lock:
                taken = ready[:]
                ready.clear()
            if taken:
                self._pace.add(len(taken))
                reply = Reply(kind="results", worker=self.info(), handover=message.handover, results=taken)
                await self._reply(message.session, reply)

        batch = message.batch.model_copy(update={"specs": [message.batch.specs[index] for index in runs]})
        results: list[JobResult] = []
        if runs:
            jobs = [
                RunningJob(f"{self.identity}-{next(self._serial)}", spec.source_id, message.timeout_s)
                for spec in batch.specs
            ]
            running = asyncio.create_task(asyncio.to_thread(supervisor.run, batch, jobs, on_result=heard))
            while not running.done():
                await asyncio.wait([running], timeout=FLUSH_S)
                await flush()
            results = running.result()
        await flush()
        return [runs[index] for index, result in enumerate(results) if result.state is JobState.PENDING]

    def _refuse_exec(self, specs: list[JobSpec]) -> dict[int, JobResult]:
        if self.options.allow_exec:
            return {}
        message = "this worker does not run --exec commands (start it with --allow-exec)"
        return {
            index: JobResult(
                # Failed, not dead: another worker may allow it, and `retry-failed` runs it once one does.
                source_id=spec.source_id,
                state=JobState.FAILED,
                error_kind=ErrorKind.INTERNAL,
                message=message,
            )
            for index, spec in enumerate(specs)
            if spec.exec_template
        }

    def _supervisor(self, slot: _Slot, cap: int | None) -> JobSupervisor:
        if slot.supervisor is None or slot.cap != cap:
            if slot.supervisor is not None:
                slot.supervisor.close()
            settings = SupervisorSettings(stderr_folder=self._stderr_folder, memory_cap_bytes=cap)
            slot.supervisor, slot.cap = JobSupervisor(settings), cap
            if self._draining.is_set():
                slot.supervisor.stop_admitting()
        return slot.supervisor

    async def _hand_back(
        self, delivery: Delivery, message: WorkMessage | None, indices: list[int], deliveries: int = 1
    ) -> None:
        """Put the jobs not started back on the queue as a new message, then ack the one taken."""
        if message is None:
            await self.transport.publish(delivery.body, delivery.priority)
        else:
            rest = message.model_copy(
                update={
                    "indices": [message.indices[i] for i in indices],
                    "batch": message.batch.model_copy(update={"specs": [message.batch.specs[i] for i in indices]}),
                    "prior_deliveries": deliveries - 1,  # handing back is not a lost delivery
                }
            )
            await self.transport.publish(encode(rest), delivery.priority)
        await self.transport.ack(delivery)

    async def _reply(self, session: str, reply: Reply) -> None:
        for body in fragments(encode(reply), self.transport.max_message_bytes):
            await self.transport.reply(session, body)

    async def _session_alive(self, session: str) -> bool:
        known = self._alive_cache.get(session)
        now = time.monotonic()
        if known is not None and now - known[1] < SESSION_CHECK_S:
            return known[0]
        alive = await self.transport.session_alive(session)
        self._alive_cache[session] = (alive, now)
        return alive

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            held = [slot.delivery for slot in self._slots if slot.delivery is not None]
            with contextlib.suppress(BrokerUnavailable):
                if held:
                    await self.transport.extend(held)
                now = time.monotonic()
                for session, last in list(self._sessions.items()):
                    if now - last > 60:
                        del self._sessions[session]
                        continue
                    await self._reply(session, Reply(kind="heartbeat", worker=self.info()))
