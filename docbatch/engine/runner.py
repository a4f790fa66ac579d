"""One run end to end: discovery streams into a bounded priority queue, N slots hand documents to
the executor, results are written atomically, every state change goes to the ledger, and the
report is written at the end (also when the run is interrupted)."""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from docbatch.checkpoint.base import LedgerEvent, RunRecord
from docbatch.checkpoint.recorder import LedgerRecorder
from docbatch.checkpoint.sqlite import SqliteLedger
from docbatch.config import OutputFormat, RunConfig
from docbatch.discovery import discover
from docbatch.engine.progress import RunProgress
from docbatch.errors import DocbatchError, DocumentError, ExitCode
from docbatch.executors.base import Executor
from docbatch.executors.local import LocalExecutor
from docbatch.models import Document, ErrorKind, JobRecord, JobResult, JobSpec, JobState, Skip
from docbatch.outputs.paths import REPORT_NAME, output_path
from docbatch.outputs.writers import append_line, render, write_atomic
from docbatch.report.build import build_report
from docbatch.report.model import RunReport
from docbatch.serialization import dumps_compact, dumps_pretty, stable_hash

_HOST = socket.gethostname()
_END = object()  # sentinel that tells a slot the queue is drained


def new_run_id() -> str:
    """Sortable and unique: UTC time plus a random suffix."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass
class RunOutcome:
    report: RunReport
    report_path: Path
    exit_code: ExitCode


@dataclass
class _Run:
    config: RunConfig
    run_id: str
    executor: Executor
    recorder: LedgerRecorder
    progress: RunProgress
    queue: asyncio.PriorityQueue[tuple[tuple[int, int], object]]
    discovery_error: list[BaseException] = field(default_factory=list)


async def run_batch(
    config: RunConfig, *, executor: Executor | None = None, progress: RunProgress | None = None
) -> RunOutcome:
    """Process every document of ``config`` and return the report; never raises for a bad document."""
    config.output.root.mkdir(parents=True, exist_ok=True)
    ledger = await asyncio.to_thread(SqliteLedger.open, config.state_dir)
    executor = executor or LocalExecutor(config.pool.concurrency, config.pool.max_jobs_per_worker)
    run = _Run(
        config=config,
        run_id=new_run_id(),
        executor=executor,
        recorder=LedgerRecorder(ledger),
        progress=progress or RunProgress(),
        queue=asyncio.PriorityQueue(maxsize=config.pool.queue_size),
    )
    cpu_before = os.times()
    ledger.begin_run(
        RunRecord(
            run_id=run.run_id,
            started_at=run.progress.started_at,
            pid=os.getpid(),
            host=_HOST,
            command=" ".join(config.command),
            config_json=config.model_dump_json(),
            output_dir=str(config.output.root),
            executor=executor.name,
        )
    )
    run.recorder.start()
    status = "finished"
    try:
        await executor.start()
        await _process_all(run)
    except asyncio.CancelledError:
        status = "interrupted"
    finally:
        # Shielded: the pool must be stopped and the ledger flushed even when the run is cancelled.
        await asyncio.shield(executor.close(cancel=status != "finished"))
        _cancel_active(run)
        await run.recorder.close()
    if run.discovery_error:
        status = "failed"
    report = build_report(run.run_id, config, run.progress, executor.name, status, cpu_before, ledger.path)
    report_path = config.output.root / REPORT_NAME
    await asyncio.to_thread(write_atomic, report_path, dumps_pretty(report.model_dump(mode="json", by_alias=True)))
    ledger.finish_run(
        run.run_id,
        status=status,
        finished_at=time.time(),
        exit_code=report.exit_code,
        report_path=str(report_path),
        counts_json=dumps_compact(report.counts.model_dump()).decode(),
    )
    ledger.close()
    if run.discovery_error:
        error = run.discovery_error[0]
        raise error if isinstance(error, DocbatchError) else DocbatchError(f"discovery failed: {error}")
    return RunOutcome(report=report, report_path=report_path, exit_code=ExitCode(report.exit_code))


async def _process_all(run: _Run) -> None:
    slots = [asyncio.create_task(_slot(run), name=f"slot-{index}") for index in range(run.config.pool.concurrency)]
    feeder = asyncio.create_task(_feed(run), name="discovery")
    try:
        await feeder
        await asyncio.gather(*slots)
    except BaseException:
        feeder.cancel()
        for slot in slots:
            slot.cancel()
        await asyncio.gather(feeder, *slots, return_exceptions=True)
        raise


async def _feed(run: _Run) -> None:
    """Walk in a thread and hand each document to the queue as soon as it is found (streaming)."""
    loop = asyncio.get_running_loop()
    counter = itertools.count()
    stop = threading.Event()

    def walk() -> None:
        items: Iterator[Document | Skip] = discover(run.config.sources)
        try:
            for item in items:
                if stop.is_set():
                    return
                # Blocks this thread while the queue is full: discovery never runs far ahead of work.
                asyncio.run_coroutine_threadsafe(_admit(run, item, next(counter)), loop).result()
        except BaseException as error:  # surfaced by the coordinator, which ends the run
            run.discovery_error.append(error)

    try:
        await asyncio.to_thread(walk)
    finally:
        stop.set()
        run.progress.discovery_done = True
        for index in range(run.config.pool.concurrency):
            await run.queue.put(((1, index), _END))


async def _admit(run: _Run, item: Document | Skip, sequence: int) -> None:
    if isinstance(item, Skip):
        run.progress.on_skipped(item)
        run.recorder.record(
            LedgerEvent(
                run_id=run.run_id,
                source_id=item.source_id,
                state=JobState.SKIPPED,
                at=time.time(),
                path=_printable(item.path),
                message=item.reason,
            )
        )
        return
    run.progress.on_discovered(item)
    # Higher priority first, then discovery order (FIFO); the leading 0 keeps documents before _END.
    await run.queue.put(((0, -int(item.priority) * (1 << 40) + sequence), item))


async def _slot(run: _Run) -> None:
    while True:
        _, item = await run.queue.get()
        if item is _END:
            return
        assert isinstance(item, Document)
        await _process_one(run, item)


async def _process_one(run: _Run, document: Document) -> None:
    config = run.config
    attempt = 1
    started = time.time()
    run.progress.on_started(document)
    run.recorder.record(
        LedgerEvent(
            run_id=run.run_id,
            source_id=document.source_id,
            state=JobState.RUNNING,
            at=started,
            attempt=attempt,
            path=_printable(document.path),
            size=document.size,
            mtime_ns=document.mtime_ns,
            priority=int(document.priority),
            host=_HOST,
        )
    )
    spec = JobSpec(
        source_id=document.source_id,
        path=str(document.path),
        size=document.size,
        options=document.options,
        processor_override=config.processor_override,
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
            result = await run.executor.run(spec, config.pool.timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug in an executor must not stop the other documents
            result = JobResult(
                source_id=document.source_id,
                state=JobState.FAILED,
                error_kind=ErrorKind.INTERNAL,
                message=f"executor error: {type(error).__name__}: {error}",
            )
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
    run.progress.on_finished(record)
    run.recorder.record(_final_event(run, record))


async def _write_output(run: _Run, document: Document, result: JobResult) -> str | None:
    """Write the output; a failure to write turns the job into a failed one (never lost silently)."""
    fmt = run.config.output.format
    mark = time.perf_counter()
    try:
        target = output_path(run.config.output.root, document.source_id, fmt)
        data = render(document, result, fmt)
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


def _final_event(run: _Run, record: JobRecord) -> LedgerEvent:
    result = record.result
    recipe = None
    if result.state is JobState.SUCCEEDED:
        recipe = stable_hash([result.processor_version, run.config.recipe_options(), record.document.options])
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
        host=_HOST,
        duration_s=record.duration_s,
        details=dumps_compact(details).decode(),
    )


def _cancel_active(run: _Run) -> None:
    """Jobs still in flight when the run stops are recorded as cancelled (resumable)."""
    now = time.time()
    for job in list(run.progress.active.values()):
        run.progress.active.pop(job.source_id, None)
        run.progress.states[JobState.CANCELLED.value] += 1
        run.recorder.record(
            LedgerEvent(
                run_id=run.run_id,
                source_id=job.source_id,
                state=JobState.CANCELLED,
                at=now,
                attempt=1,
                message="run interrupted",
            )
        )


def _printable(path: Path) -> str:
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")
