"""One document's try: dispatch to the executor, write the output, record the outcome, and put a
retryable failure back in the queue after an exponential backoff with jitter."""

from __future__ import annotations

import asyncio
import itertools
import time

from docbatch.checkpoint.base import LedgerEvent
from docbatch.config import OutputFormat
from docbatch.engine.context import HOST, QueuedJob, RunContext, printable, queue_key
from docbatch.engine.retry import compute_backoff, is_retryable
from docbatch.errors import DocumentError
from docbatch.models import Document, ErrorKind, JobRecord, JobResult, JobSpec, JobState
from docbatch.outputs.paths import output_path
from docbatch.outputs.writers import append_line, render, write_atomic
from docbatch.serialization import dumps_compact

# Retries sort after first tries of the same priority that were discovered before them.
_retry_sequence = itertools.count(1 << 39)
_requeueing: set[asyncio.Future[None]] = set()


async def process_one(run: RunContext, job: QueuedJob) -> None:
    """Run one try of a document; a retryable failure goes back to the queue after a backoff."""
    document, plan = job.document, job.plan
    config = run.config
    attempt = plan.attempt + job.tries
    started = time.time()
    run.progress.on_started(document)
    run.recorder.record(
        LedgerEvent(
            run_id=run.run_id,
            source_id=document.source_id,
            state=JobState.RUNNING,
            at=started,
            attempt=attempt,
            path=printable(document.path),
            size=document.size,
            mtime_ns=document.mtime_ns,
            priority=int(document.priority),
            host=HOST,
        )
    )
    spec = JobSpec(
        source_id=document.source_id,
        path=str(document.path),
        size=document.size,
        options=document.options,
        processor_override=config.processor_override,
        exec_template=config.exec_template,
    )
    if config.max_file_size_bytes is not None and document.size > config.max_file_size_bytes:
        result = JobResult(
            source_id=document.source_id,
            state=JobState.DEAD,
            error_kind=ErrorKind.TOO_LARGE,
            message=f"{document.size} bytes is over --max-file-size ({config.max_file_size_bytes})",
        )
    else:
        try:
            executor = await run.ensure_executor()
            if run.governor is not None:
                await run.governor.admit()  # throttled while the workers use, or would use, too much memory
            result = await executor.run(spec, config.pool.timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug in an executor must not stop the other documents
            result = JobResult(
                source_id=document.source_id,
                state=JobState.FAILED,
                error_kind=ErrorKind.INTERNAL,
                message=f"executor error: {type(error).__name__}: {error}",
            )
    if result.message:
        result.message = " ".join(result.message.split())  # one line in the log, the report and the ledger
    written_to = None
    if result.state is JobState.SUCCEEDED:
        written_to = await _write_output(run, document, result)
    finished = time.time()
    record = JobRecord(
        document=document,
        result=result,
        attempt=attempt,
        started_at=started,
        finished_at=finished,
        output_path=written_to,
    )
    result.times.settle_dispatch(record.duration_s)
    if run.governor is not None and document.source_id in run.governor.stats.job_peaks:
        result.peak_rss_bytes = run.governor.stats.job_peaks.pop(document.source_id)
    run.recorder.record(_final_event(run, record, plan.recipe_hash))
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

    def requeue() -> None:
        run.retry_timers.discard(handle)
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


async def _write_output(run: RunContext, document: Document, result: JobResult) -> str | None:
    """Write the output; a failure to write turns the job into a failed one (never lost silently)."""
    fmt = run.config.output.format
    mark = time.perf_counter()
    try:
        target = output_path(run.config.output.root, document.source_id, fmt)
        data = render(document, result, fmt)
        result.times.transform_s = time.perf_counter() - mark
        mark = time.perf_counter()
        if fmt is OutputFormat.JSONL:
            await asyncio.to_thread(append_line, target, data)
        else:
            await asyncio.to_thread(write_atomic, target, data)
    except DocumentError as error:
        result.state, result.error_kind, result.message = JobState.DEAD, error.kind, str(error)
        return None
    except OSError as error:
        result.state, result.error_kind = JobState.FAILED, ErrorKind.IO
        result.message = f"cannot write output: {error.strerror or error}"
        return None
    finally:
        result.times.write_s = time.perf_counter() - mark
    return str(target)


def _final_event(run: RunContext, record: JobRecord, recipe: str) -> LedgerEvent:
    result = record.result
    details = {
        "times": result.times.model_dump(),
        "peak_rss_bytes": result.peak_rss_bytes,
        "processor": result.processor_version,
    }
    return LedgerEvent(
        run_id=run.run_id,
        source_id=record.document.source_id,
        state=result.state,
        at=record.finished_at,
        attempt=record.attempt,
        sha256=result.sha256,
        kind=result.kind,
        recipe_hash=recipe,
        error_kind=result.error_kind.value if result.error_kind else None,
        message=result.message,
        output_path=record.output_path,
        pid=result.pid,
        host=HOST,
        duration_s=record.duration_s,
        details=dumps_compact(details).decode(),
    )
