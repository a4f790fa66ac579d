"""Documents that fail in the coordinator, before any worker sees them: inputs discovery could not
read, and documents whose output file belongs to another document."""

from __future__ import annotations

import time

from docbatch.checkpoint import events
from docbatch.discovery import DiscoveryFailure
from docbatch.engine.context import RunContext
from docbatch.models import Document, ErrorKind, JobRecord, JobResult, JobState, Priority


def fail_before_handover(run: RunContext, document: Document, kind: ErrorKind, message: str, ledger_id: str) -> None:
    """Record ``document`` as dead without handing it to a worker (no attempt is counted)."""
    now = time.time()
    if ledger_id != document.source_id:
        document = document.model_copy(update={"source_id": ledger_id})
    result = JobResult(source_id=ledger_id, state=JobState.DEAD, error_kind=kind, message=message)
    run.recorder.record(events.refused(run.run_id, document, kind, message, now))
    run.progress.on_finished(JobRecord(document=document, result=result, attempt=0, started_at=now, finished_at=now))


def fail_unreadable(run: RunContext, failure: DiscoveryFailure) -> None:
    """An input that discovery could not read: a document of the run that failed, with its reason."""
    document = Document.model_construct(
        source_id=failure.source_id, path=failure.path, size=0, mtime_ns=0, priority=Priority.NORMAL, options={}
    )
    run.progress.on_discovered(document)
    fail_before_handover(run, document, failure.error_kind, failure.message, failure.source_id)
