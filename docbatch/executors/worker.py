"""What runs inside a worker process: read, detect, extract, render and write, and report the outcome
as a small JobResult (the text itself never travels back to the coordinator).

Everything here must be importable by a freshly spawned interpreter and must never raise: every
problem with a document becomes a JobResult with an ErrorKind, so one document cannot break a worker.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

from docbatch.config import OutputFormat
from docbatch.errors import DocumentError, UnsupportedDocument
from docbatch.executors.failures import describe_exception, without_paths
from docbatch.executors.worker_stderr import capture_stderr, take_job_stderr
from docbatch.models import ErrorKind, JobBatch, JobResult, JobSpec, JobState, StageTimes
from docbatch.outputs.writers import write_result
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.cleanup import clean_extraction
from docbatch.processors.command import CommandProcessor
from docbatch.processors.registry import default_registry, load_custom_processor
from docbatch.processors.sniff import HEAD_BYTES, detect

_KEEP_IN_MEMORY_BYTES = 64 * 1024 * 1024
_PR_SET_PDEATHSIG = 1


_started_channel: Any = None  # where jobs announce (token, pid, stage); set by init_worker
WORKER_READY = "~ready"  # the token a worker announces once it has started (no job has this token)
_stopping: Any = None  # a shared event the coordinator sets when the run stops admitting work


def init_worker(started_channel: Any = None, stopping: Any = None, stderr_folder: str | None = None) -> None:
    """Worker start-up: die with the coordinator, and leave Ctrl-C to the coordinator.

    The parent-death signal makes the kernel kill this worker when the coordinator dies, even by
    SIGKILL, so a crashed run never leaves workers behind. Its own process group keeps a terminal's
    Ctrl-C from reaching workers directly: the coordinator decides how jobs in flight end.
    """
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The coordinator may have died between fork and prctl; then our parent is already init.
        if os.getppid() == 1:
            os._exit(1)
    # Its own process group, so that a timeout or memory kill reaches whatever the processor started.
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    capture_stderr(stderr_folder)
    global _started_channel, _stopping
    _started_channel, _stopping = started_channel, stopping
    if started_channel is not None:
        started_channel.put((WORKER_READY, os.getpid(), "ready"))


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


def _announce(spec: JobSpec, stage: str) -> None:
    if _started_channel is not None and spec.token is not None:
        _started_channel.put((spec.token, os.getpid(), stage))


def run_batch(batch: JobBatch) -> list[JobResult]:
    """Process a batch's jobs one after the other; each announces its start, which starts its deadline."""
    results: list[JobResult] = []
    for spec in batch.specs:
        if (_stopping is not None and _stopping.is_set()) or any(done.environment for done in results):
            # The run is stopping, or this batch just found the disk full: a job not started yet stays
            # pending (resumable, no attempt used).
            results.append(JobResult(source_id=spec.source_id, state=JobState.PENDING, message="not started"))
            continue
        # The coordinator starts the job's deadline and its memory accounting from this message. A job
        # in a batch of short ones reports no further stages, so it says only that it runs.
        _announce(spec, "read" if batch.announce_stages else "running")
        started_at = time.time()
        wants_markdown = batch.output_format == OutputFormat.MD.value
        result = run_job(spec, announce_stages=batch.announce_stages, wants_markdown=wants_markdown)
        if batch.output_root is not None and result.state is JobState.SUCCEEDED:
            if batch.announce_stages:
                _announce(spec, "write")
            # Written here, so that the text never crosses back to the coordinator.
            write_result(spec, result, Path(batch.output_root), OutputFormat(batch.output_format))
        result.started_at, result.finished_at = started_at, time.time()
        result.peak_rss_bytes = _peak_rss_bytes()
        result.stderr_tail, result.stderr_bytes = take_job_stderr()  # this job's, never the next one's
        results.append(result)
    return results


def run_job(spec: JobSpec, *, announce_stages: bool = False, wants_markdown: bool = True) -> JobResult:
    """Process one document up to its extraction; every failure is reported in the result, never raised."""
    result = JobResult(source_id=spec.source_id, state=JobState.RUNNING, pid=os.getpid())
    times = StageTimes()
    started = time.perf_counter()
    kind: str | None = None
    processor_library = ""
    try:
        path = Path(spec.path)
        head, data, result.sha256 = _read(path, spec.size)
        times.read_s = time.perf_counter() - started
        mark = time.perf_counter()
        processor: Processor
        extension = path.suffix.lower().lstrip(".")
        # Provisional, so that a document failing detection is still counted under its claimed type.
        result.kind = default_registry().extension_kinds.get(extension)
        warning = None
        if spec.exec_template:
            processor = CommandProcessor(spec.exec_template)
            kind = "exec"
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
        processor_library = processor.library
        times.detect_s = time.perf_counter() - mark
        if announce_stages:
            _announce(spec, "extract")
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
    except UnsupportedDocument as error:
        result.state, result.error_kind, result.message = JobState.SKIPPED, error.kind, str(error)
    except DocumentError as error:
        result.state, result.error_kind, result.message = JobState.DEAD, error.kind, str(error)
    except MemoryError:
        result.state, result.error_kind, result.message = JobState.FAILED, ErrorKind.MEMORY, "out of memory"
    except OSError as error:
        result.state, result.error_kind = JobState.FAILED, ErrorKind.IO
        result.message = f"cannot read the file: {(error.strerror or str(error)).lower()}"
    except RecursionError:
        result.state, result.error_kind, result.message = (
            JobState.DEAD,
            ErrorKind.CORRUPT,
            "structure nested too deeply",
        )
    except Exception as error:
        result.state = JobState.DEAD
        if spec.processor_override or kind in default_registry().plugin_kinds:
            # Code the user brought failed: say so, and do not blame the document.
            result.error_kind = ErrorKind.PROCESSOR
            result.message = f"processor {result.processor} raised {type(error).__name__}: {error}".strip()
        else:  # a parser library rejecting the bytes: the document is the problem
            result.error_kind = ErrorKind.CORRUPT
            reader = f"{result.processor} ({processor_library})" if processor_library else "its processor"
            result.message = f"{reader} cannot read it: {describe_exception(error)}"
    if result.message:
        result.message = without_paths(result.message, spec.path, spec.source_id)[:2000]
    result.times = times
    result.peak_rss_bytes = _peak_rss_bytes()
    return result
