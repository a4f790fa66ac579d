"""The state one run shares between its tasks: config, ledger writer, queue, stop controller and
the count of documents still owed a final state (which decides when the slots may end)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

from docbatch.checkpoint.recorder import LedgerRecorder
from docbatch.config import QueueOrder, RunConfig
from docbatch.engine.batching import BatchSizer
from docbatch.engine.planner import Plan, Planner
from docbatch.engine.resources import MemoryGovernor
from docbatch.engine.stopping import FailureBudget, StopController
from docbatch.errors import DocbatchError, EnvironmentFailed
from docbatch.executors.base import Executor
from docbatch.models import Document
from docbatch.report.progress import RunProgress

HOST = socket.gethostname()
END = object()  # sentinel that tells a slot to leave


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """A document waiting for a slot: its plan, and how many tries this run has made of it."""

    document: Document
    plan: Plan
    tries: int = 0


_LEVEL = 1 << 120  # wider than any size (<< 40) plus sequence, so priority always dominates


def queue_key(document: Document, sequence: int, order: QueueOrder = QueueOrder.DISCOVERY) -> tuple[int, int]:
    """Higher priority first, then the chosen order (FIFO by default, sequence breaking ties); the leading 0
    sorts documents before the end markers."""
    within = sequence
    if order is QueueOrder.SIZE_ASC:
        within = (document.size << 40) + sequence
    elif order is QueueOrder.SIZE_DESC:
        within = ((_LEVEL >> 1) - (document.size << 40)) + sequence
    return (0, -int(document.priority) * _LEVEL + within)


@dataclass
class RunContext:
    config: RunConfig
    run_id: str
    executor: Executor
    recorder: LedgerRecorder
    progress: RunProgress
    planner: Planner
    stopper: StopController
    failure_budget: FailureBudget | None
    queue: asyncio.PriorityQueue[tuple[tuple[int, int], object]]
    governor: MemoryGovernor | None = None
    discovery_error: list[BaseException] = field(default_factory=list)
    executor_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    executor_started: bool = False
    executor_unusable: str | None = None  # why the executor could not start; no slot tries again
    # Documents admitted to the queue that have no final state yet (queued, running or waiting to retry).
    owed: int = 0
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    retry_timers: set[asyncio.TimerHandle] = field(default_factory=set)
    retries_scheduled: int = 0
    batching: BatchSizer = field(default_factory=BatchSizer)

    async def ensure_executor(self) -> Executor:
        """Start the executor on first use: a re-run with nothing to do never spawns a worker.

        Raises EnvironmentFailed (exit 5) when it cannot start (a Dask scheduler that cannot be
        reached): the run cannot go on, and its documents are not to blame."""
        async with self.executor_lock:
            if self.executor_unusable is not None:
                raise EnvironmentFailed(self.executor_unusable)
            if not self.executor_started:
                try:
                    await self.executor.start()
                except DocbatchError as error:
                    # One line even when the cluster's own message spans several.
                    self.executor_unusable = " ".join(str(error).split())
                    raise EnvironmentFailed(self.executor_unusable) from error
                self.executor_started = True
                if self.governor is not None:
                    self.governor.start()
        return self.executor

    def owe(self) -> None:
        self.owed += 1
        self.settled.clear()

    def settle(self) -> None:
        self.owed -= 1
        if self.owed == 0:
            self.settled.set()
