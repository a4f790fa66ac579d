"""One run end to end: discovery streams into a bounded priority queue, N slots hand documents to
the executor, results are written atomically, every state change goes to the ledger, and the
report is written at the end (also when the run is interrupted)."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import itertools
import logging
import os
import threading
import time
from collections.abc import Iterator

from docbatch.brokers.urls import redacted, without_passwords
from docbatch.checkpoint import events
from docbatch.checkpoint.base import Ledger, LedgerLookup, LedgerStore, RunRecord
from docbatch.checkpoint.lock import OutputLock, StateLock
from docbatch.checkpoint.recorder import LedgerRecorder
from docbatch.checkpoint.stores import SqliteStore
from docbatch.config import RunConfig
from docbatch.discovery import Discovered, DiscoveryFailure, check_inputs, check_manifests, discover
from docbatch.engine.batching import BatchSizer
from docbatch.engine.claims import written_files
from docbatch.engine.conclusion import RunOutcome, conclude
from docbatch.engine.context import END, HOST, QueuedJob, RunContext, queue_key
from docbatch.engine.folders import check_output_folder, check_state_folder
from docbatch.engine.heartbeat import note_executor, publish_heartbeats
from docbatch.engine.jobs import try_batch
from docbatch.engine.planner import Planner, Verdict
from docbatch.engine.refusals import fail_before_handover, fail_unreadable
from docbatch.engine.resources import MemoryGovernor
from docbatch.engine.stopping import StopController, schedule_deadline
from docbatch.errors import DocbatchError
from docbatch.executors.base import Executor
from docbatch.executors.registry import build_executor
from docbatch.models import Document, ErrorKind, JobState, Priority, Skip
from docbatch.report.progress import RunProgress

DISCOVERY_CHUNK = 256  # documents handed from the walking thread to the event loop at once
DISCOVERY_CHUNK_S = 0.02  # ... or after this long, so that work starts while a slow walk goes on
_log = logging.getLogger("docbatch")


def _log_start(run_id: str, config: RunConfig) -> None:
    """The run's first log event: its id, the command line and the effective configuration, so that a
    log file alone says what each night's run was asked to do."""
    # Logs are read by more people than the ledger: a broker URL's password is masked here.
    settings = config.model_dump(mode="json", exclude={"command"})
    settings["executor"] = redacted(config.executor)
    command = without_passwords(config.command)
    fields = {"run_id": run_id, "command": command, "config": settings}
    _log.info("start run=%s command=%s", run_id, " ".join(command), extra={"event": "start", "fields": fields})


async def execute_run(
    config: RunConfig,
    *,
    run_id: str,
    stopper: StopController,
    executor: Executor | None = None,
    progress: RunProgress | None = None,
    ledger_store: LedgerStore | None = None,
) -> RunOutcome:
    """Process every document of ``config`` that needs it as the run ``run_id`` and return the report.

    ``stopper`` is how the caller stops (drains) or cancels the run; the runner installs no signal
    handlers, and sets ``stopper.begun`` once the run is recorded in the ledger. The caller closes it.

    ``executor``: None builds the one ``config.executor`` names (executors/registry.py);
    ``ledger_store``: where the ledger is kept, SQLite in the state folder unless told otherwise.

    Never raises for a bad document. Raises StateLocked when another run holds the state or output
    folder; ConfigError when a PATH is the output or state folder or lies inside it, when the output
    folder belongs to another ledger, when a file is in the way of the output or state folder, or when
    a manifest cannot be read or has a bad row (all before the batch); DocbatchError when discovery
    itself fails; and EnvironmentFailed (exit 5)
    before the batch when either folder or the ledger cannot be written. Once the batch has started,
    the environment failing it (a full disk) stops it like a stop request: the outcome has exit code 5
    and ``environment_failure``.
    """
    check_inputs(config.sources, output=config.output.root, state=config.state_dir)
    # Before the lock and the ledger: a manifest with a bad row leaves no run behind (a second's read
    # per million rows, in a thread so that the live view keeps drawing).
    await asyncio.to_thread(check_manifests, config.sources)
    await asyncio.to_thread(check_state_folder, config)
    lock = StateLock(config.state_dir)
    await asyncio.to_thread(lock.acquire, config.wait_lock_s)
    try:
        # The outputs are what two runs really share: a run from another working directory (another
        # default state folder) waits or exits 3 here, and one with another ledger is refused.
        await asyncio.to_thread(check_output_folder, config)
        output_lock = OutputLock(config.output.root, config.state_dir)
        await asyncio.to_thread(output_lock.acquire, config.wait_lock_s)
        try:
            store = ledger_store or SqliteStore()
            return await _run_locked(config, run_id, stopper, executor, progress, output_lock, store)
        finally:
            output_lock.release()
    finally:
        lock.release()


async def _run_locked(
    config: RunConfig,
    run_id: str,
    stopper: StopController,
    executor: Executor | None,
    progress: RunProgress | None,
    output_lock: OutputLock,
    store: LedgerStore,
) -> RunOutcome:
    ledger = await asyncio.to_thread(store.open_writer, config.state_dir)
    await asyncio.to_thread(output_lock.claim)
    reader = store.open_reader(config.state_dir)
    run = _new_run(config, run_id, stopper, executor or build_executor(config), progress, ledger, reader)
    cpu_before = os.times()
    try:  # the first write: a ledger that refuses writes stops the run here, before the batch (exit 5)
        ledger.begin_run(_run_record(run))
    except BaseException:
        reader.close()
        ledger.close()
        raise
    _log_start(run.run_id, config)
    run.executor.stage_listener = run.progress.on_stage
    # An executor whose hand-over costs more (a Dask task: ~2 ms) sends bigger batches.
    run.batching = BatchSizer(run.executor.batch_target_s)
    run.progress.memory_limit_bytes = config.memory_limit_bytes
    run.recorder.start()
    run.stopper.begun.set()
    cancel_deadline = schedule_deadline(run.stopper, config.max_runtime_s)
    heartbeat = asyncio.create_task(publish_heartbeats(run, ledger), name="heartbeat")
    try:
        await _process_all(run)
    except asyncio.CancelledError:
        # Cancelled from outside (a caller's timeout, asyncio.run on Ctrl-C without a handle's signals).
        run.stopper.reason = run.stopper.reason or "cancelled"
    finally:
        cancel_deadline()
        heartbeat.cancel()
        await _wind_down(run)
        reader.close()
        run.planner.claims.close()
    outcome = await conclude(run, ledger, _final_status(run), cpu_before)
    if run.discovery_error:
        error = run.discovery_error[0]
        raise error if isinstance(error, DocbatchError) else DocbatchError(f"discovery failed: {error}")
    return outcome


def _new_run(
    config: RunConfig,
    run_id: str,
    stopper: StopController,
    executor: Executor,
    progress: RunProgress | None,
    ledger: Ledger,
    reader: LedgerLookup,
) -> RunContext:
    """The shared state of a run about to start (nothing runs yet)."""
    return RunContext(
        config=config,
        run_id=run_id,
        executor=executor,
        recorder=LedgerRecorder(ledger, on_failure=lambda error: stopper.fail(str(error))),
        progress=progress or RunProgress(),
        planner=Planner(config, reader),
        stopper=stopper,
        failure_budget=config.max_failures,
        queue=asyncio.PriorityQueue(maxsize=config.pool.queue_size),
        governor=_memory_governor(config, executor),
    )


def _memory_governor(config: RunConfig, executor: Executor) -> MemoryGovernor | None:
    """A governor when a memory limit is set and the executor offers job control (a cluster governs
    memory on its own side). Only then: sampling process trees costs about a core-percent per job;
    without it, each job's peak is its worker's high-water mark (getrusage)."""
    job_control = executor.job_control
    limited = config.memory_limit_bytes or config.memory_per_job_bytes or config.free_memory_floor_bytes
    if job_control is None or not limited:
        return None
    return MemoryGovernor(
        job_control,
        limit_bytes=config.memory_limit_bytes,
        per_job_bytes=config.memory_per_job_bytes,
        free_floor_bytes=config.free_memory_floor_bytes,
        concurrency=config.pool.concurrency,
    )


def _run_record(run: RunContext) -> RunRecord:
    config = run.config
    return RunRecord(
        run_id=run.run_id,
        started_at=run.progress.started_at,
        pid=os.getpid(),
        host=HOST,
        command=" ".join(config.command),
        # Absolute, so that status, report, prune and retry-failed work from any folder.
        config_json=config.with_absolute_paths().model_dump_json(),
        output_dir=os.path.abspath(config.output.root),
        executor=run.executor.name,
        parent_run_id=config.parent_run_id,
    )


async def _wind_down(run: RunContext) -> None:
    """After the slots have left: stop timers and the governor, close the executor, record what was
    still active, and flush the ledger."""
    for timer in run.retry_timers:
        timer.cancel()
    if run.governor is not None:
        await run.governor.stop()
        run.progress.throttled, run.progress.throttled_s = False, run.governor.throttled_s
    note_executor(run)  # as it was at the end, kept in the run's final counters
    # Shielded: the pool must be stopped and the ledger flushed even when the run is cancelled.
    await asyncio.shield(run.executor.close(cancel=run.stopper.reason is not None))
    _cancel_active(run)
    await run.recorder.close()


def _final_status(run: RunContext) -> str:
    if run.discovery_error:
        return "failed"
    if run.stopper.reason is not None:
        return "cancelled" if run.stopper.hard else "interrupted"
    return "finished"


async def _process_all(run: RunContext) -> None:
    slots = [asyncio.create_task(_slot(run), name=f"slot-{index}") for index in range(run.executor.slots)]
    feeder = asyncio.create_task(_feed(run), name="discovery")
    drained = asyncio.create_task(_drain_on_stop(run), name="drain")
    cancel_now = asyncio.create_task(run.stopper.cancel_now.wait(), name="cancel-now")
    try:
        work: asyncio.Future[list[None]] = asyncio.gather(feeder, *slots)
        waiting: set[asyncio.Future[object]] = {work, cancel_now}  # type: ignore[arg-type]
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if cancel_now in done:
            raise asyncio.CancelledError
        work.result()
    except BaseException:
        feeder.cancel()
        for slot in slots:
            slot.cancel()
        await asyncio.gather(feeder, *slots, return_exceptions=True)
        with contextlib.suppress(BaseException):
            work.result()  # retrieved, so asyncio does not warn about it
        raise
    finally:
        drained.cancel()
        cancel_now.cancel()


async def _drain_on_stop(run: RunContext) -> None:
    """On a stop request, put end markers ahead of every queued document: slots finish and leave."""
    await run.stopper.draining.wait()
    # Batches already handed over: their jobs not yet started come back pending.
    run.executor.stop_admitting()
    # Queued documents stay pending (no ledger event): a resumed run simply processes them. Emptying the
    # queue also frees discovery if it was waiting for room.
    while not run.queue.empty():
        run.queue.get_nowait()
    for index in range(run.executor.slots):
        run.queue.put_nowait(((-1, index), END))


async def _feed(run: RunContext) -> None:
    """Walk in a thread and hand each document to the queue as soon as it is found (streaming)."""
    loop = asyncio.get_running_loop()
    counter = itertools.count()
    stop = threading.Event()

    def hand_over(chunk: list[Discovered]) -> None:
        # Blocks this thread while the queue is full: discovery never runs far ahead of work.
        asyncio.run_coroutine_threadsafe(_admit_all(run, chunk, counter), loop).result()

    def walk() -> None:
        own = (run.config.output.root, run.config.state_dir)
        items: Iterator[Discovered] = discover(run.config.sources, own_folders=own, own_files=written_files())
        chunk: list[Discovered] = []
        last = time.monotonic()
        try:
            for item in items:
                if stop.is_set() or run.stopper.draining.is_set():
                    return
                chunk.append(item)
                if len(chunk) >= DISCOVERY_CHUNK or time.monotonic() - last > DISCOVERY_CHUNK_S:
                    hand_over(chunk)
                    chunk, last = [], time.monotonic()
            if chunk and not stop.is_set():
                hand_over(chunk)
        except BaseException as error:  # surfaced by the coordinator, which ends the run
            run.discovery_error.append(error)

    try:
        await asyncio.to_thread(walk)
    finally:
        stop.set()
        run.progress.discovery_done = True
    # Not in the finally: a cancelled feeder must not wait here (nothing would ever wake it).
    # Slots end only when every admitted document has its final state (retries included).
    if run.owed:
        stop_waiting = asyncio.ensure_future(run.stopper.draining.wait())
        settled = asyncio.ensure_future(run.settled.wait())
        try:
            await asyncio.wait({stop_waiting, settled}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_waiting.cancel()
            settled.cancel()
    if not run.stopper.draining.is_set():
        for index in range(run.executor.slots):
            await run.queue.put(((1, index), END))


async def _admit_all(run: RunContext, chunk: list[Discovered], counter: Iterator[int]) -> None:
    for item in chunk:
        if run.stopper.draining.is_set():
            return
        await _admit(run, item, next(counter))


async def _admit(run: RunContext, item: Discovered, sequence: int) -> None:
    if isinstance(item, DiscoveryFailure):
        fail_unreadable(run, item)
        return
    if isinstance(item, Skip):
        run.progress.on_skipped(item)
        run.recorder.record(events.skipped(run.run_id, item, time.time()))
        return
    item = _apply_priority_rules(run, item)
    run.progress.on_discovered(item)
    plan = run.planner.plan(item)
    refused = run.planner.refusal(item, plan)
    if refused is not None:
        fail_before_handover(run, item, ErrorKind.COLLISION, refused[1], ledger_id=refused[0])
        return
    if plan.verdict is Verdict.UP_TO_DATE:
        run.progress.on_up_to_date(item)
        return
    if plan.verdict is Verdict.STILL_DEAD:
        previous = plan.previous
        assert previous is not None
        run.progress.on_still_dead(item, previous.error_kind or "internal", previous.message or "", previous.attempts)
        # Recorded in this run too, so that `docbatch retry-failed` of this run finds it.
        run.recorder.record(events.still_dead(run.run_id, previous, recipe_hash=plan.recipe_hash, at=time.time()))
        return
    run.owe()
    await run.queue.put((queue_key(item, sequence, run.config.pool.order), QueuedJob(item, plan)))


def _apply_priority_rules(run: RunContext, document: Document) -> Document:
    for pattern, level in run.config.pool.priority_rules:
        if fnmatch.fnmatchcase(document.source_id, pattern) or fnmatch.fnmatchcase(document.path.name, pattern):
            return document.model_copy(update={"priority": Priority(level)})
    return document


async def _slot(run: RunContext) -> None:
    while True:
        _, item = await run.queue.get()
        if item is END or run.stopper.draining.is_set():
            return  # a document taken after a stop request stays pending
        assert isinstance(item, QueuedJob)
        await try_batch(run, _fill_batch(run, item))
        # This run's failures only: documents carried over dead from earlier runs do not spend the budget.
        if run.failure_budget and run.failure_budget.exceeded(run.progress.new_failures, run.progress.processed):
            run.stopper.request(f"--max-failures {run.config.max_failures} reached")


def _fill_batch(run: RunContext, first: QueuedJob) -> list[QueuedJob]:
    """Add to ``first`` what is queued next (in priority order), up to the adaptive batch size; a large
    document ends the batch (it may take long, and the ones behind it would wait)."""
    batch = [first]
    limit = run.batching.size()
    if run.failure_budget is not None:
        limit = min(limit, run.failure_budget.room(run.progress.new_failures) or limit)
    while len(batch) < limit and not run.batching.travels_alone(batch[-1].document.size) and not run.queue.empty():
        key, item = run.queue.get_nowait()
        if not isinstance(item, QueuedJob):  # an end marker: leave it for the slot it was meant for
            run.queue.put_nowait((key, item))
            break
        batch.append(item)
    return batch


def _cancel_active(run: RunContext) -> None:
    """Jobs a worker had started when the run stopped are recorded as cancelled; those handed over but
    not started are pending again. Both are resumable."""
    now = time.time()
    for job in list(run.progress.active.values()):
        run.progress.active.pop(job.source_id, None)
        started = job.stage != "queued"
        if started:
            run.progress.states[JobState.CANCELLED.value] += 1
        message = f"run stopped: {run.stopper.reason or 'cancelled'}"
        if started:
            run.recorder.record(events.cancelled(run.run_id, job.source_id, message, now))
        else:
            run.recorder.record(events.pending_again(run.run_id, job.source_id, message + " before it started", now))
