"""A batch of documents' tries: hand them to the executor, write the outputs it leaves to the coordinator,
record each outcome, and put a retryable failure back in the queue after an exponential backoff with jitter."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import itertools
import time
from dataclasses import dataclass
from pathlib import Path

from docbatch.checkpoint import events
from docbatch.config import OutputFormat
from docbatch.engine.context import HOST, QueuedJob, RunContext, queue_key
from docbatch.engine.retry import compute_backoff, is_retryable
from docbatch.errors import EnvironmentFailed, ExecutorLost
from docbatch.executors.base import OutputTarget
from docbatch.models import Document, ErrorKind, JobRecord, JobResult, JobSpec, JobState
from docbatch.outputs.writers import write_result

# Retries sort after first tries of the same priority that were discovered before them.
_retry_sequence = itertools.count(1 << 39)
_requeueing: set[asyncio.Future[None]] = set()


@dataclass(frozen=True, slots=True)
class _Try:
    """One document's try in a batch: its queue entry, its attempt number over all runs, its spec."""

    job: QueuedJob
    attempt: int
    spec: JobSpec


async def try_batch(run: RunContext, jobs: list[QueuedJob]) -> None:
    """Run one try of each document (in one worker, one after the other), record each outcome, and put
    a retryable failure back in the queue after a backoff."""
    await run.recorder.room()  # the ledger far behind: wait rather than pile up events in memory
    try:
        await run.ensure_executor()
    except EnvironmentFailed as error:
        run.stopper.fail(str(error))  # exit 5; these documents stay pending, as queued ones do
        return
    if run.governor is not None:
        # Before the jobs count as running: waiting for memory is neither a job's time nor its dispatch.
        await run.governor.admit()
        if run.stopper.draining.is_set():
            return  # stopped while waiting: these documents stay pending, as queued ones do
    tries = _start_tries(run, jobs)
    if not tries:
        return
    submitted = time.time()
    run.progress.on_batch(len(tries))
    results = await _hand_over(run, [one.spec for one in tries])
    await _settle_batch(run, tries, results, submitted)


def _start_tries(run: RunContext, jobs: list[QueuedJob]) -> list[_Try]:
    """Record each document as running; one over --max-file-size dies here, the others get a spec."""
    config = run.config
    tries: list[_Try] = []
    for job in jobs:
        document = job.document
        attempt = job.plan.attempt + job.tries
        started = time.time()
        run.progress.on_started(document)
        run.recorder.record(events.started(run.run_id, document, attempt=attempt, host=HOST, at=started))
        if config.max_file_size_bytes is not None and document.size > config.max_file_size_bytes:
            result = JobResult(
                source_id=document.source_id,
                state=JobState.DEAD,
                error_kind=ErrorKind.TOO_LARGE,
                message=f"{document.size} bytes is over --max-file-size ({config.max_file_size_bytes})",
            )
            _settle(run, job, attempt, result, started, time.time())
            continue
        spec = JobSpec.model_construct(  # from validated parts: no need to validate again
            source_id=document.source_id,
            path=str(document.path),
            size=document.size,
            options=document.options,
            processor_override=config.processor_override,
            exec_template=config.exec_template,
            token=None,
            priority=int(document.priority),
        )
        tries.append(_Try(job, attempt, spec))
    return tries


async def _hand_over(run: RunContext, specs: list[JobSpec]) -> list[JobResult]:
    """The executor's results for ``specs``; an executor that fails the whole batch gives each job the
    same failure (a lost executor also stops the run)."""
    config = run.config
    try:
        output = OutputTarget(str(config.output.root), config.output.format.value)
        return await run.executor.run_batch(specs, config.pool.timeout_s, output=output)
    except asyncio.CancelledError:
        raise
    except ExecutorLost as error:
        # Nothing can run any more: stop the run (interrupted, resumable); these jobs were not done.
        # One line each, even when a cluster's message spans several.
        lost = " ".join(str(error).split())
        run.stopper.request(lost)
        return [_batch_failure(spec, JobState.CANCELLED, lost) for spec in specs]
    except Exception as error:  # a bug in an executor must not stop the other documents
        message = " ".join(f"executor error: {type(error).__name__}: {error}".split())
        return [_batch_failure(spec, JobState.FAILED, message) for spec in specs]


def _batch_failure(spec: JobSpec, state: JobState, message: str) -> JobResult:
    return JobResult(source_id=spec.source_id, state=state, error_kind=ErrorKind.INTERNAL, message=message)


async def _settle_batch(run: RunContext, tries: list[_Try], results: list[JobResult], submitted: float) -> None:
    """Write the outputs the executor left to the coordinator, then settle each try with its share of
    the batch's wall time (``submitted``: time.time() of the hand-over)."""
    config = run.config
    for result in results:
        if result.started_at:
            run.batching.observe(result.finished_at - result.started_at)
    queued = min(results[0].queued_s, time.time() - submitted) if results else 0.0
    spans = _job_spans(results, time.time() - submitted - queued)
    moment = submitted + queued
    if not run.executor.writes_outputs:
        # An executor that sends extractions back (Dask, a broker): the outputs are written here, in
        # one thread hop per batch (a batch of tiny documents would otherwise pay one per document).
        to_write = [
            (one.job.document, result)
            for one, result in zip(tries, results, strict=True)
            if result.state is JobState.SUCCEEDED and result.extraction is not None
        ]
        if to_write:
            # One writer thread for the run: batches settling together would otherwise write in
            # several threads at once, which only fight over the GIL (measured: 2M futex calls).
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(_writer(), _write_all, to_write, config.output.root, config.output.format)
    for one, result, span in zip(tries, results, spans, strict=True):
        _settle(run, one.job, one.attempt, result, moment, moment + span)
        moment += span


@functools.cache
def _writer() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="docbatch-output-writer")


def _write_all(found: list[tuple[Document, JobResult]], root: Path, output_format: OutputFormat) -> None:
    for document, result in found:
        write_result(document, result, root, output_format)


def _job_spans(results: list[JobResult], batch_s: float) -> list[float]:
    """Split a batch's wall time between its jobs. Each job gets what its worker measured (one clock,
    so this holds on a cluster too); the rest (moving the batch, waiting for a worker) goes to the
    jobs without a measurement (a crashed one), or else to the first, so the spans add up to the batch."""
    spans = [max(0.0, result.finished_at - result.started_at) if result.started_at else 0.0 for result in results]
    rest = max(0.0, batch_s - sum(spans))
    unmeasured = [index for index, result in enumerate(results) if not result.started_at]
    if unmeasured:
        for index in unmeasured:
            spans[index] = rest / len(unmeasured)
    else:
        spans[0] += rest
    return spans


def _settle(run: RunContext, job: QueuedJob, attempt: int, result: JobResult, started: float, finished: float) -> None:
    document = job.document
    if result.environment is not None:
        run.stopper.fail(result.environment)  # the disk, not the document: stop, and this one stays to do
    if result.state is JobState.PENDING:
        # Handed over but not started before the run stopped (or its output found the disk full): pending
        # again, and not an attempt.
        run.progress.active.pop(document.source_id, None)
        message = result.message if result.environment else "not started: the run stopped"
        run.recorder.record(events.pending_again(run.run_id, document.source_id, message, finished))
        run.settle()
        return
    if result.message:
        result.message = " ".join(result.message.split())  # one line in the log, the report and the ledger
    record = JobRecord(
        document=document,
        result=result,
        attempt=attempt,
        started_at=started,
        finished_at=finished,
        output_path=result.output_path if result.state is JobState.SUCCEEDED else None,
    )
    result.times.settle_dispatch(record.duration_s)
    if run.governor is not None and document.source_id in run.governor.stats.job_peaks:
        result.peak_rss_bytes = run.governor.stats.job_peaks.pop(document.source_id)
    run.recorder.record(events.finished(run.run_id, record, recipe_hash=job.plan.recipe_hash, host=HOST))
    if _should_retry(run, record, job.tries):
        run.progress.on_retry(record)
        _schedule_retry(run, job, attempt)
        return
    run.progress.on_finished(record)
    run.settle()


def _should_retry(run: RunContext, record: JobRecord, tries: int) -> bool:
    result = record.result
    return (
        result.state is JobState.FAILED
        and is_retryable(result.error_kind)
        and tries < run.config.retries
        and not run.stopper.draining.is_set()
    )


def _schedule_retry(run: RunContext, job: QueuedJob, failed_tries: int) -> None:
    """Requeue after a backoff, waiting on a timer rather than in a slot; the priority is kept."""
    delay = compute_backoff(job.tries + 1, run.config.backoff_s, run.config.backoff_cap_s)
    again = QueuedJob(job.document, job.plan, job.tries + 1)
    run.retries_scheduled += 1
    run.progress.on_retry_scheduled(job.document.source_id, delay)

    def requeue() -> None:
        run.retry_timers.discard(handle)
        run.progress.on_retry_due(job.document.source_id)
        if run.stopper.draining.is_set():
            return  # stays pending; the next run picks it up
        # A task, not put_nowait: the queue may be full of newly discovered documents.
        task = asyncio.ensure_future(
            run.queue.put((queue_key(job.document, next(_retry_sequence), run.config.pool.order), again))
        )
        _requeueing.add(task)
        task.add_done_callback(_requeueing.discard)

    handle = asyncio.get_running_loop().call_later(delay, requeue)
    run.retry_timers.add(handle)
