"""One job inside any worker: read, detect, extract, render and write, and report the outcome as a
small JobResult (the text itself never travels back to the coordinator when the worker writes it).

The supervisor's child process (executors/supervisor.py) runs these for the local executor, the Dask
task and later the broker worker; the inline executor runs them in a thread. Everything here must be
importable by a fresh interpreter and must never raise: every problem with a document becomes a
JobResult with an ErrorKind, so one document cannot break a worker.
"""

from __future__ import annotations

import hashlib
import os
import resource
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from docbatch.config import OutputFormat
from docbatch.errors import DocumentError, UnsupportedDocument
from docbatch.executors.base import not_started
from docbatch.executors.failures import describe_exception, without_paths
from docbatch.executors.worker_stderr import take_job_stderr
from docbatch.models import ErrorKind, JobBatch, JobResult, JobSpec, JobState, StageTimes
from docbatch.outputs.writers import write_result
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.cleanup import clean_extraction
from docbatch.processors.command import CommandProcessor
from docbatch.processors.registry import default_registry, load_custom_processor
from docbatch.processors.sniff import HEAD_BYTES, detect

_KEEP_IN_MEMORY_BYTES = 64 * 1024 * 1024

# Told (index of the job in its batch, stage) as a job moves on: "extract" and "write" (long jobs only).
StageAnnouncer = Callable[[int, str], None]


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _read(path: Path, size: int) -> tuple[bytes, bytes | None, str]:
    """Return (head, whole content when small enough to keep, sha256) in one pass over the file."""
    with open(path, "rb") as handle:
        if size <= _KEEP_IN_MEMORY_BYTES:
            data = handle.read()  # one call for the common case
            return data[:HEAD_BYTES], data, hashlib.sha256(data).hexdigest()
        digest = hashlib.sha256()
        head = b""
        while chunk := handle.read(1024 * 1024):
            if not head:
                head = chunk[:HEAD_BYTES]
            digest.update(chunk)
    return head, None, digest.hexdigest()


def run_jobs(
    batch: JobBatch, *, announce: StageAnnouncer | None = None, stop_requested: Callable[[], bool] | None = None
) -> Iterator[JobResult]:
    """Process a batch's jobs one after the other, yielding each one's result as it finishes.

    ``announce`` hears the later stages of each job when ``batch.announce_stages`` is set (the start
    is implied: a job starts when the previous result is yielded). ``stop_requested`` is asked before
    each job: when it says so, the jobs not started come back ``pending``.
    """
    wants_markdown = batch.output_format == OutputFormat.MD.value
    environment_failed = False
    for index, spec in enumerate(batch.specs):
        if environment_failed or (stop_requested is not None and stop_requested()):
            # The run is stopping, or this batch just found the disk full: a job not started yet stays
            # pending (resumable, no attempt used).
            yield not_started(spec.source_id)
            continue
        stage_of_this_job = None
        if announce is not None and batch.announce_stages:

            def stage_of_this_job(stage: str, index: int = index) -> None:
                announce(index, stage)

        started_at = time.time()
        result = run_job(spec, announce=stage_of_this_job, wants_markdown=wants_markdown)
        if batch.output_root is not None and result.state is JobState.SUCCEEDED:
            if stage_of_this_job is not None:
                stage_of_this_job("write")
            # Written here, so that the text never crosses back to the coordinator.
            write_result(spec, result, Path(batch.output_root), OutputFormat(batch.output_format))
        result.started_at, result.finished_at = started_at, time.time()
        result.peak_rss_bytes = _peak_rss_bytes()
        result.stderr_tail, result.stderr_bytes = take_job_stderr()  # this job's, never the next one's
        environment_failed = bool(result.environment)
        yield result


def run_job(spec: JobSpec, *, announce: Callable[[str], None] | None = None, wants_markdown: bool = True) -> JobResult:
    """Process one document up to its extraction; every failure is reported in the result, never raised.

    ``announce`` hears "extract" when the document's type is known and extraction begins."""
    result = JobResult(source_id=spec.source_id, state=JobState.RUNNING, pid=os.getpid())
    times = StageTimes()
    started = time.perf_counter()
    processor: Processor | None = None
    try:
        path = Path(spec.path)
        head, data, result.sha256 = _read(path, spec.size)
        times.read_s = time.perf_counter() - started
        mark = time.perf_counter()
        processor, kind, warning = _choose_processor(spec, path, head, result)
        times.detect_s = time.perf_counter() - mark
        if announce is not None:
            announce("extract")
        mark = time.perf_counter()
        source = SourceFile(
            path=path, size=spec.size, head=head, options=dict(spec.options), wants_markdown=wants_markdown, _data=data
        )
        extraction = processor.extract(source, kind)
        if warning:
            extraction.warnings.insert(0, warning)
        clean_extraction(extraction)
        times.extract_s = time.perf_counter() - mark
        result.extraction = extraction
        result.pages = len(extraction.pages)
        result.state = JobState.SUCCEEDED
    except Exception as error:  # MemoryError and RecursionError included: see _classify
        _classify(error, spec, processor, result)
    if result.message:
        result.message = without_paths(result.message, spec.path, spec.source_id)[:2000]
    result.times = times
    result.peak_rss_bytes = _peak_rss_bytes()
    return result


def _choose_processor(spec: JobSpec, path: Path, head: bytes, result: JobResult) -> tuple[Processor, str, str | None]:
    """The processor for the document, its type and a detection warning; sets ``result``'s kind and processor.

    Raises UnsupportedDocument when no processor reads the detected type."""
    extension = path.suffix.lower().lstrip(".")
    # Provisional, so that a document failing detection is still counted under its claimed type.
    result.kind = default_registry().extension_kinds.get(extension)
    warning = None
    processor: Processor
    if spec.exec_template:
        processor, kind = CommandProcessor(spec.exec_template), "exec"
    elif spec.processor_override:
        processor = load_custom_processor(spec.processor_override)
        kind = processor.kinds[0]
    else:
        registry = default_registry()
        detection = detect(path, extension, head, registry.extension_kinds, registry.plugin_kinds)
        kind, warning = detection.kind, detection.warning
        found = registry.for_kind(kind)
        if found is None:
            raise UnsupportedDocument(f"no processor for type {kind}")
        processor = found
    result.kind, result.processor, result.processor_version = kind, processor.name, processor.version()
    return processor, kind, warning


def _classify(error: Exception, spec: JobSpec, processor: Processor | None, result: JobResult) -> None:
    """Turn what a job raised into the result's state, error kind and message."""
    if isinstance(error, UnsupportedDocument):
        result.state, result.error_kind, result.message = JobState.SKIPPED, error.kind, str(error)
    elif isinstance(error, DocumentError):
        result.state, result.error_kind, result.message = JobState.DEAD, error.kind, str(error)
    elif isinstance(error, MemoryError):
        result.state, result.error_kind, result.message = JobState.FAILED, ErrorKind.MEMORY, "out of memory"
    elif isinstance(error, OSError):
        result.state, result.error_kind = JobState.FAILED, ErrorKind.IO
        result.message = f"cannot read the file: {(error.strerror or str(error)).lower()}"
    elif isinstance(error, RecursionError):
        result.state, result.error_kind, result.message = (
            JobState.DEAD,
            ErrorKind.CORRUPT,
            "structure nested too deeply",
        )
    elif spec.processor_override or (processor is not None and result.kind in default_registry().plugin_kinds):
        # Code the user brought failed: say so, and do not blame the document.
        result.state, result.error_kind = JobState.DEAD, ErrorKind.PROCESSOR
        result.message = f"processor {result.processor} raised {type(error).__name__}: {error}".strip()
    else:  # a parser library rejecting the bytes: the document is the problem
        result.state, result.error_kind = JobState.DEAD, ErrorKind.CORRUPT
        library = processor.library if processor is not None else ""
        reader = f"{result.processor} ({library})" if library else "its processor"
        result.message = f"{reader} cannot read it: {describe_exception(error)}"
