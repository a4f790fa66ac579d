"""Starting a run and holding on to it: the one way cli/, server/ and the broker worker run a batch.

``start_run`` returns at once with a RunHandle whose run id is already chosen (it is the id the
ledger, the report and `docbatch status` use); the run goes on in a task of the caller's event loop.
The handle stops it (drain), cancels it (hard) and waits for its outcome. Process signals are the
caller's business (the CLI maps them to stop and cancel in cli/signals.py).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import TYPE_CHECKING

from docbatch.report.progress import RunProgress

if TYPE_CHECKING:  # the engine loads sqlite3 and the process pool, kept out of `docbatch --help`
    from docbatch.checkpoint.base import LedgerStore
    from docbatch.config import RunConfig
    from docbatch.engine.conclusion import RunOutcome as RunOutcome
    from docbatch.engine.stopping import StopController
    from docbatch.executors.base import Executor

__all__ = ["RunHandle", "RunOutcome", "RunProgress", "check_processors", "new_run_id", "run_to_end", "start_run"]


def new_run_id() -> str:
    """Sortable and unique: UTC time plus a random suffix (`20260130T014501Z-3fa2c1`)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


class RunHandle:
    """One run going on in the caller's event loop: its id, its live tally, and the ways to end it."""

    def __init__(
        self, run_id: str, progress: RunProgress, stopper: StopController, task: asyncio.Task[RunOutcome]
    ) -> None:
        self.run_id = run_id
        self.progress = progress  # the live tally: what a view polls, read from the same loop
        self._stopper = stopper
        self._task = task

    @property
    def begun(self) -> bool:
        """True once the run holds its locks and is recorded in the ledger (a stop then drains it)."""
        return self._stopper.begun.is_set()

    @property
    def stopping(self) -> bool:
        """True once a stop or cancel was asked for (or a budget or the environment ended the run)."""
        return self._stopper.reason is not None

    @property
    def done(self) -> bool:
        return self._task.done()

    def stop(self, reason: str, *, again: str | None = None) -> None:
        """Drain: admit no new documents and let running jobs finish within the configured grace, then
        cancel them. The documents not done stay pending, and the outcome is exit 4 (resumable).
        ``reason`` is logged and reported (`SIGINT received`); ``again`` names what cancels at once
        (`Ctrl-C again`). A second stop, or one after the run has ended, is ignored."""
        if self.done:
            return
        if again is None:
            self._stopper.request(reason)
        else:
            self._stopper.request(reason, again=again)

    def cancel(self) -> None:
        """Hard stop: cancel the running jobs now (they end `cancelled`, resumable); exit 130. Ignored
        once the run has ended."""
        if not self.done:
            self._stopper.cancel()

    async def wait_begun(self) -> bool:
        """Wait until the run is recorded in the ledger or has ended before that (a lock held by
        another run, a bad manifest); True when it began."""
        begun = asyncio.ensure_future(self._stopper.begun.wait())
        try:
            await asyncio.wait({begun, self._task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            begun.cancel()
        return self.begun

    async def wait(self) -> RunOutcome:
        """The run's outcome (report, exit code, report path) once it has ended.

        Raises what the run raised before its batch began: StateLocked (exit 3), ConfigError (exit 2),
        EnvironmentFailed (exit 5), DocbatchError when discovery fails. Cancelling the task that waits
        cancels the run too, which then ends `interrupted` with its outcome returned.
        """
        return await self._task


def start_run(
    config: RunConfig,
    *,
    executor: Executor | None = None,
    progress: RunProgress | None = None,
    ledger_store: LedgerStore | None = None,
    run_id: str | None = None,
) -> RunHandle:
    """Start the run ``config`` describes and return its handle at once (call inside a running event
    loop; RuntimeError otherwise). ``executor`` overrides the one ``config.executor`` names;
    ``progress`` is the tally to fill (a new one by default); ``ledger_store`` keeps the ledger
    somewhere else than SQLite in the state folder (checkpoint/memory.py for fast tests); ``run_id``
    is the id of a run queued earlier in the ledger (see SqliteLedger.queue_run), a new one by default."""
    from docbatch.engine.stopping import StopController

    asyncio.get_running_loop()  # RuntimeError now, not a never-awaited task later
    tally = progress if progress is not None else RunProgress()
    stopper = StopController(config.grace_s, running_count=lambda: len(tally.running_jobs()))
    run_id = run_id or new_run_id()
    running = _execute(config, run_id, stopper, executor, tally, ledger_store)
    task = asyncio.create_task(running, name=f"run-{run_id}")
    return RunHandle(run_id, tally, stopper, task)


async def run_to_end(
    config: RunConfig,
    *,
    executor: Executor | None = None,
    progress: RunProgress | None = None,
    ledger_store: LedgerStore | None = None,
) -> RunOutcome:
    """Start a run and wait for its outcome (no stop or cancel but by cancelling the caller)."""
    return await start_run(config, executor=executor, progress=progress, ledger_store=ledger_store).wait()


async def _execute(
    config: RunConfig,
    run_id: str,
    stopper: StopController,
    executor: Executor | None,
    progress: RunProgress,
    ledger_store: LedgerStore | None,
) -> RunOutcome:
    from docbatch.engine.runner import execute_run

    try:
        return await execute_run(
            config, run_id=run_id, stopper=stopper, executor=executor, progress=progress, ledger_store=ledger_store
        )
    finally:
        stopper.close()


def check_processors(config: RunConfig) -> None:
    """Load the processors a run of ``config`` uses (the built-in ones and plugins, or its --processor
    function): a missing or broken one is a ConfigError (exit 2) before the batch, not a failure per
    document inside the workers."""
    from docbatch.processors.registry import default_registry, load_custom_processor

    default_registry()
    if config.processor_override:
        load_custom_processor(config.processor_override)
