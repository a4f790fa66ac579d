"""The ledger's single writer in the coordinator: events are batched and applied off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from docbatch.checkpoint.base import Ledger, LedgerEvent
from docbatch.errors import EnvironmentFailed


class LedgerRecorder:
    """Collects events and applies them in batches, at most ``interval_s`` apart.

    One transaction per batch instead of one per state change keeps the ledger off the hot path; a
    crash loses at most the last unapplied batch, whose documents are simply processed again.

    A write the machine refuses (EnvironmentFailed: disk full, read-only ledger) is handed to
    ``on_failure`` once (the runner stops the run) and the events are kept to try again, last at
    close; those still unapplied then are dropped, leaving their documents to be processed again.
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        interval_s: float = 0.25,
        max_batch: int = 1000,
        backlog_limit: int = 20_000,
        on_failure: Callable[[EnvironmentFailed], None] | None = None,
    ) -> None:
        self._ledger = ledger
        self.on_failure = on_failure
        self.failure: EnvironmentFailed | None = None
        self._interval_s = interval_s
        self._max_batch = max_batch
        self._pending: list[LedgerEvent] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # Producers wait (room()) while this many events are not applied yet: memory stays bounded when
        # the ledger is the bottleneck (a 1,000,000-document run held up to 15,000 per 100,000 before).
        self._backlog_limit = backlog_limit
        self._flushed = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="ledger-recorder")

    def record(self, event: LedgerEvent) -> None:
        self._pending.append(event)
        if len(self._pending) >= self._max_batch:
            self._wake.set()

    async def room(self) -> None:
        """Return when the backlog of unapplied events is under the limit."""
        while (
            len(self._pending) >= self._backlog_limit
            and self.failure is None  # a refusing ledger will not catch up: the run is stopping anyway
            and self._task is not None
            and not self._task.done()
        ):
            self._flushed.clear()
            self._wake.set()
            await self._flushed.wait()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            try:
                await asyncio.to_thread(self._ledger.apply, batch)
            except EnvironmentFailed as error:
                self._pending[:0] = batch  # kept, in order, for the next try
                if self.failure is None:
                    self.failure = error
                    if self.on_failure is not None:
                        self.on_failure(error)
        self._flushed.set()

    async def _loop(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
            await self.flush()

    async def close(self) -> None:
        """Apply everything still pending; shielded so that a cancelled run still records its end."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await asyncio.shield(self._task)
        await asyncio.shield(self.flush())
        self._pending.clear()  # what the ledger refused to the end: those documents are simply done again
