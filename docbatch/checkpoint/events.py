"""One named factory per kind of ledger event, so each kind has one shape wherever it is recorded.

Times (``at``) are ``time.time()`` seconds; paths are recorded absolute and printable (see
``printable``), so that `docbatch retry-failed` works from any folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from docbatch.checkpoint.base import DocumentRow, LedgerEvent
from docbatch.models import Document, ErrorKind, JobRecord, JobState, Skip
from docbatch.serialization import dumps_compact


def printable(path: Path) -> str:
    """Absolute (so retry-failed works from any folder) and printable (undecodable bytes escaped)."""
    return os.fsencode(os.path.abspath(path)).decode("utf-8", errors="backslashreplace")


def skipped(run_id: str, skip: Skip, at: float) -> LedgerEvent:
    """Discovery passed over a file (not a regular file, empty, a lock file, ...) with its reason."""
    return LedgerEvent(
        run_id=run_id, source_id=skip.source_id, state=JobState.SKIPPED, at=at, path=printable(skip.path),
        message=skip.reason,
    )  # fmt: skip


def still_dead(run_id: str, previous: DocumentRow, *, recipe_hash: str, at: float) -> LedgerEvent:
    """A document dead in an earlier run (``previous``: its ledger row) and unchanged since, recorded
    in this run too (so that `docbatch retry-failed` of this run finds it) without being tried."""
    return LedgerEvent(
        run_id=run_id, source_id=previous.source_id, state=JobState.DEAD, at=at, attempt=previous.attempts,
        error_kind=previous.error_kind, message=previous.message, recipe_hash=recipe_hash,
    )  # fmt: skip


def refused(run_id: str, document: Document, kind: ErrorKind, message: str, at: float) -> LedgerEvent:
    """A document the coordinator failed before any worker saw it (unreadable input, an output that
    belongs to another document): dead, and no attempt counted."""
    return LedgerEvent(
        run_id=run_id, source_id=document.source_id, state=JobState.DEAD, at=at, path=printable(document.path),
        size=document.size or None, mtime_ns=document.mtime_ns or None, error_kind=kind.value, message=message,
    )  # fmt: skip


def started(run_id: str, document: Document, *, attempt: int, host: str, at: float) -> LedgerEvent:
    """A try of ``document`` handed to the executor (``attempt`` counts every run's tries)."""
    return LedgerEvent(
        run_id=run_id, source_id=document.source_id, state=JobState.RUNNING, at=at, attempt=attempt,
        path=printable(document.path), size=document.size, mtime_ns=document.mtime_ns,
        priority=int(document.priority), host=host,
    )  # fmt: skip


def pending_again(run_id: str, source_id: str, message: str | None, at: float) -> LedgerEvent:
    """Handed over but never started (the run stopped, or the disk was full): pending, not an attempt."""
    return LedgerEvent(run_id=run_id, source_id=source_id, state=JobState.PENDING, at=at, attempt=0, message=message)


def cancelled(run_id: str, source_id: str, message: str, at: float) -> LedgerEvent:
    """A job a worker had started when the run was stopped: resumable, and not an attempt."""
    return LedgerEvent(run_id=run_id, source_id=source_id, state=JobState.CANCELLED, at=at, attempt=0, message=message)


def finished(run_id: str, record: JobRecord, *, recipe_hash: str, host: str) -> LedgerEvent:
    """A try's outcome (succeeded, failed or dead) with its stage times, peak RSS and processor in
    ``details``; the captured stderr only when there was some."""
    result = record.result
    times = result.times
    details: dict[str, object] = {
        "times": {
            "dispatch_s": times.dispatch_s,
            "read_s": times.read_s,
            "detect_s": times.detect_s,
            "extract_s": times.extract_s,
            "transform_s": times.transform_s,
            "write_s": times.write_s,
        },
        "peak_rss_bytes": result.peak_rss_bytes,
        "processor": result.processor_version,
    }
    if result.stderr_bytes:  # only then: a million quiet documents add nothing to the ledger
        details["stderr"], details["stderr_bytes"] = result.stderr_tail, result.stderr_bytes
    return LedgerEvent(
        run_id=run_id,
        source_id=record.document.source_id,
        state=result.state,
        at=record.finished_at,
        attempt=record.attempt,
        sha256=result.sha256,
        kind=result.kind,
        recipe_hash=recipe_hash,
        error_kind=result.error_kind.value if result.error_kind else None,
        message=result.message,
        output_path=record.output_path,
        pid=result.pid,
        host=host,
        duration_s=record.duration_s,
        details=dumps_compact(details).decode(),
    )
