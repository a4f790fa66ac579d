"""A run's status as a typed model (RunStatus), read from the ledger by any process.

It reads the run's row (whose counters the running coordinator refreshes every second, as a
RunSnapshot) and, before the first heartbeat, a few indexed rows of the documents table, so it
answers quickly however large the ledger and never slows the run down.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

from docbatch.models import ActiveJobStatus, MemoryStatus, RunSnapshot, RunStatus
from docbatch.processes import pid_alive
from docbatch.report.progress import rates

if TYPE_CHECKING:  # the ledger modules load sqlite3, kept out of `docbatch --help`
    from docbatch.checkpoint.reader import LedgerReader, RunRow

STALE_HEARTBEAT_S = 10.0


def liveness(row: RunRow, now: float) -> str:
    """The run's recorded status, except that a 'running' row whose coordinator is gone (its process
    on this host has died, or it has not beaten for STALE_HEARTBEAT_S) is 'crashed': a resume
    reclaims its jobs."""
    if row.status != "running":
        return row.status
    gone = row.host == socket.gethostname() and row.pid is not None and not pid_alive(row.pid)
    silent = row.heartbeat_at is not None and now - row.heartbeat_at > STALE_HEARTBEAT_S
    return "crashed" if gone or silent else "running"


def snapshot_of(row: RunRow) -> RunSnapshot:
    """The counters the run last published (all zero before its first heartbeat)."""
    return RunSnapshot.model_validate_json(row.counts_json) if row.counts_json else RunSnapshot()


def describe(reader: LedgerReader, row: RunRow, now: float | None = None) -> RunStatus:
    """Everything `status` shows about the run ``row`` of the ledger ``reader`` reads, at ``now``
    (epoch seconds; the current time by default)."""
    from docbatch.outputs.reports import run_report_path

    now = now or time.time()
    snapshot = snapshot_of(row)
    status = liveness(row, now)
    running = status == "running"
    finished = sum(snapshot.states.values())
    processed, bytes_left, discovery_done = _with_fallbacks(snapshot, row, finished)
    speed = rates(processed, snapshot.bytes_done, bytes_left, (row.finished_at or now) - row.started_at, discovery_done)
    retry_waiting, next_retry_in_s, active, waiting_in_batches = _live_fields(reader, row, snapshot, now, running)
    output_dir = row.output_dir or ""
    return RunStatus(
        run_id=row.run_id,
        parent_run_id=row.parent_run_id,
        status=status,
        exit_code=row.exit_code,
        executor=row.executor,
        executor_info=snapshot.executor_info,
        command=_masked(row.command),
        started_at=row.started_at,
        elapsed_s=round(speed.elapsed_s, 3),
        discovered=snapshot.discovered,
        discovery_done=discovery_done,
        finished=finished,
        states=snapshot.states,
        # Not finished: queued, running or waiting for a retry while the run goes on; left for the
        # next run (never lost) once it has stopped.
        pending=max(0, snapshot.discovered - finished),
        processed=processed,
        docs_per_s=round(speed.docs_per_s, 3),
        mb_per_s=round(speed.mb_per_s, 3),
        eta_s=round(speed.eta_s, 1) if running and speed.eta_s is not None else None,
        retry_waiting=retry_waiting,
        next_retry_in_s=next_retry_in_s,
        active=active,
        waiting_in_batches=waiting_in_batches,
        stages=snapshot.stages,
        memory=MemoryStatus(
            workers_rss_bytes=snapshot.workers_rss_bytes,
            limit_bytes=snapshot.memory_limit_bytes,
            throttled=snapshot.throttled and running,
            throttled_s=snapshot.throttled_s,
        ),
        error_kinds=snapshot.error_kinds,
        output_dir=output_dir,
        report=row.report_path or str(run_report_path(Path(output_dir), row.run_id)),  # where it will be
        ledger=str(reader.path),
        heartbeat_age_s=round(now - row.heartbeat_at, 1) if row.heartbeat_at else None,
    )


def _with_fallbacks(snapshot: RunSnapshot, row: RunRow, finished: int) -> tuple[int, int, bool]:
    """Documents processed, bytes left and whether discovery is done; for runs recorded before these
    counters, worked out: skipped documents are not work, carried-over dead ones were."""
    processed = snapshot.processed
    if processed is None:
        processed = finished - snapshot.states.get("skipped", 0)
    bytes_left = snapshot.bytes_left
    if bytes_left is None:
        bytes_left = snapshot.discovered_bytes - snapshot.bytes_done
    discovery_done = snapshot.discovery_done
    if discovery_done is None:
        discovery_done = row.finished_at is not None
    return processed, bytes_left, discovery_done


def _live_fields(
    reader: LedgerReader, row: RunRow, snapshot: RunSnapshot, now: float, running: bool
) -> tuple[int, float | None, list[ActiveJobStatus], int]:
    """What only a live run has (zeros and nothing otherwise): retries waiting, seconds until the next
    is due, its active jobs (oldest first), and jobs waiting in their batches."""
    if not running:
        return 0, None, [], 0
    next_retry = snapshot.next_retry_at
    next_retry_in_s = round(max(0.0, next_retry - now), 1) if next_retry is not None else None
    active = snapshot.active_jobs if snapshot.active_jobs is not None else _started_jobs(reader, row, now)
    return snapshot.retry_waiting, next_retry_in_s, active, snapshot.waiting_in_batches


def _started_jobs(reader: LedgerReader, row: RunRow, now: float) -> list[ActiveJobStatus]:
    """Before the first heartbeat the ledger knows which jobs started, not their stage."""
    from docbatch.checkpoint.reader import active_jobs

    return [
        ActiveJobStatus(source_id=source, stage="started", running_s=round(now - started, 1))
        for source, started in active_jobs(reader, row.run_id)
    ]


def read_status(state_dir: Path, run: str | None) -> RunStatus:
    """The status of ``run`` (an id or a unique prefix; the latest run when None) in the ledger under
    ``state_dir``. Raises LedgerError when the ledger or the run is not found, LedgerUnusable
    when the ledger cannot be read."""
    from docbatch.checkpoint.reader import LedgerReader, find_run

    reader = LedgerReader.open(state_dir)
    try:
        return describe(reader, find_run(reader, run))
    finally:
        reader.close()


def _masked(command: str | None) -> str | None:
    """The run's command line as recorded, with any broker password masked (status is shown widely)."""
    if command is None:
        return None
    from docbatch.brokers.urls import without_passwords

    return without_passwords([command])[0]
