"""The server's runs: accepted requests wait in the ledger as `queued` runs and start one at a time
(one run per state folder, as on the command line), in priority order then first come, first served.

Nothing lives only in memory: a queued run is a ledger row with its configuration, an upload is a
file and a manifest row under the state folder, and a stop asked for is a run event. A restarted
server therefore finds its queued runs again and resumes, as a new run linked to the old one
(`continued_by`), each run that was going when it died or was shut down (unless someone had asked to
stop it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from docbatch.app.runs import RunHandle, start_run
from docbatch.checkpoint.base import RunRecord
from docbatch.checkpoint.lock import StateLocked
from docbatch.config import RunConfig
from docbatch.errors import DocbatchError
from docbatch.models import Priority
from docbatch.server.settings import ServerSettings
from docbatch.server.submissions import COMMAND

if TYPE_CHECKING:
    from docbatch.checkpoint.sqlite import SqliteLedger

_log = logging.getLogger("docbatch")
LOCKED_RETRY_S = 5.0  # a CLI run holds the state folder: try again this often
SHUTDOWN_MARK = "server_shutdown"
STOP_MARK = "stop_requested"


@dataclass
class QueuedRun:
    """A run accepted and not started. ``config`` is None for a retry (planned when it starts, once
    its parent's failures are final); an upload run takes files until it starts (``sealed``)."""

    run_id: str
    kind: str
    config: RunConfig | None
    accepted_at: float
    level: int = Priority.NORMAL
    parent: str | None = None
    notify: str | None = None
    upload_key: object = None  # uploads with the same key (callback, output format) share a run
    documents: int = 0
    sealed: bool = False
    uploading: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.idle.set()


UploadRunFactory = Callable[[], Awaitable[QueuedRun]]


class RunManager:
    """Owns the queue and the one run going on; every route that changes runs goes through it."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.queue: list[QueuedRun] = []
        self.current: tuple[QueuedRun, RunHandle] | None = None
        self._ledger: SqliteLedger | None = None
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[object]] = set()
        self._open_uploads: dict[object, QueuedRun] = {}
        self._upload_lock = asyncio.Lock()
        self._event_loop: asyncio.AbstractEventLoop | None = None

    @property
    def ready(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done() and self._ledger is not None

    def cancel_soon(self) -> None:
        """Cancel the run going on from a signal handler (thread-safe): its jobs end `cancelled`."""
        if self._event_loop is not None and self.current is not None:
            self._event_loop.call_soon_threadsafe(self.current[1].cancel)

    async def start(self) -> None:
        """Open the ledger (created when missing), find the queued and interrupted server runs, and
        start serving the queue. Raises LedgerUnusable (exit 5) when the ledger cannot be opened."""
        from docbatch.checkpoint.sqlite import SqliteLedger
        from docbatch.server.recovery import recover

        self._event_loop = asyncio.get_running_loop()
        self._ledger = await asyncio.to_thread(SqliteLedger.open, self.settings.state_dir)
        for queued in await recover(self):
            self._enqueue(queued)
        self._loop_task = asyncio.create_task(self._serve(), name="docbatch-serve-queue")

    async def stop(self) -> None:
        """Shut down: the run going on is drained (resumed by the next start of the server); queued
        runs stay queued."""
        if self.current is not None:
            queued, handle = self.current
            with contextlib.suppress(DocbatchError):
                await self.mark(queued.run_id, SHUTDOWN_MARK)
            handle.stop("docbatch serve is shutting down")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(handle.wait()), timeout=queued_grace(queued) + 30)
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
        for task in list(self._background):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=15)
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    # --- accepting ---------------------------------------------------------------------------

    async def accept(self, queued: QueuedRun) -> None:
        """Record ``queued`` in the ledger (so it survives a restart) and put it in the queue."""
        config = queued.config
        record = RunRecord(
            run_id=queued.run_id,
            started_at=queued.accepted_at,
            pid=0,
            host=socket.gethostname(),
            command=" ".join(config.command) if config else " ".join([*COMMAND, queued.kind, queued.parent or ""]),
            config_json=config.model_dump_json() if config else "{}",
            output_dir=str(config.output.root) if config else "",
            executor=self.settings.executor,
            parent_run_id=queued.parent,
        )
        await asyncio.to_thread(self._writer().queue_run, record)
        self._enqueue(queued)

    def _enqueue(self, queued: QueuedRun) -> None:
        self.queue.append(queued)
        self._wake.set()

    async def upload_target(self, level: Priority, key: object, make: UploadRunFactory) -> QueuedRun:
        """The open upload run for ``key`` (uploads with the same callback and output format share
        a run until it starts), made with ``make`` when there is none; the caller must then call
        ``upload_done``."""
        async with self._upload_lock:
            target = self._open_uploads.get(key)
            if target is None or target.sealed:
                target = await make()
                target.upload_key = key
                await self.accept(target)
                self._open_uploads[key] = target
            target.uploading += 1
            target.idle.clear()
            target.level = max(target.level, int(level))
            return target

    def upload_done(self, target: QueuedRun, documents: int) -> None:
        target.uploading -= 1
        target.documents += documents
        if target.uploading == 0:
            target.idle.set()

    # --- ending ------------------------------------------------------------------------------

    async def stop_run(self, run_id: str, *, hard: bool) -> bool:
        """Drain (or with ``hard`` cancel) the run ``run_id``: a queued run is cancelled before it
        starts, the running one is stopped. False when the server does not hold it (it has ended,
        or another process runs it); the stop is recorded either way so that no restart resumes it."""
        for queued in self.queue:
            if queued.run_id == run_id:
                self.queue.remove(queued)
                queued.sealed = True
                await self.mark(run_id, "cancelled", message="cancelled before it started", ends=True)
                return True
        if self.current is not None and self.current[0].run_id == run_id:
            await self.mark(run_id, STOP_MARK, message="hard" if hard else "drain")
            handle = self.current[1]
            if hard:
                handle.cancel()
            else:
                handle.stop(f"DELETE /v1/runs/{run_id}")
            return True
        return False

    async def mark(
        self, run_id: str, state: str, *, message: str | None = None, ends: bool = False, exit_code: int | None = None
    ) -> None:
        """Append the run event ``state`` (see SqliteLedger.mark_run)."""
        writer = self._writer()
        await asyncio.to_thread(
            writer.mark_run, run_id, state, time.time(), message=message, ends=ends, exit_code=exit_code
        )

    def _writer(self) -> SqliteLedger:
        if self._ledger is None:
            raise DocbatchError("the server is not serving (its ledger is closed)")
        return self._ledger

    async def _plan_retry(self, queued: QueuedRun) -> RunConfig | None:
        from docbatch.server.recovery import plan_retry_config

        return await asyncio.to_thread(plan_retry_config, self.settings, queued)

    # --- serving the queue -------------------------------------------------------------------

    def _take_next(self) -> QueuedRun | None:
        if not self.queue:
            return None
        chosen = max(self.queue, key=lambda queued: (queued.level, -queued.accepted_at))
        self.queue.remove(chosen)
        return chosen

    async def _serve(self) -> None:
        while True:
            queued = self._take_next()
            if queued is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                await self._run(queued)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # one run's unexpected failure must not stop the service
                _log.exception("run %s failed to run: %s", queued.run_id, error)
                with contextlib.suppress(Exception):
                    await self.mark(queued.run_id, "failed", message=f"internal error: {error}", ends=True, exit_code=1)

    async def _run(self, queued: QueuedRun) -> None:
        queued.sealed = True  # no upload joins a run once it is starting
        if self._open_uploads.get(queued.upload_key) is queued:
            del self._open_uploads[queued.upload_key]
        await queued.idle.wait()
        try:
            config = queued.config or await self._plan_retry(queued)
            if config is None:
                await self.mark(queued.run_id, "finished", message="nothing to retry", ends=True, exit_code=0)
                return
            handle = start_run(config, run_id=queued.run_id)
            self.current = (queued, handle)
            outcome = await handle.wait()
        except StateLocked as error:  # a CLI run holds the state folder: wait for it, keep our place
            _log.warning("run %s waits: %s", queued.run_id, error)
            queued.accepted_at = 0.0
            self.queue.append(queued)
            await asyncio.sleep(LOCKED_RETRY_S)
            return
        except DocbatchError as error:
            _log.error("run %s could not start: %s", queued.run_id, error)
            await self.mark(queued.run_id, "failed", message=str(error), ends=True, exit_code=int(error.exit_code))
            return
        finally:
            self.current = None
        if queued.notify:
            from docbatch.app.notify import announce

            task = asyncio.create_task(asyncio.to_thread(announce, outcome, notify_url=queued.notify, on_complete=None))
            self._background.add(task)
            task.add_done_callback(self._background.discard)


def queued_grace(queued: QueuedRun) -> float:
    return queued.config.grace_s if queued.config is not None else 30.0


__all__ = ["QueuedRun", "RunManager"]
