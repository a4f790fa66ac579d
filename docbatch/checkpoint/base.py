"""The ledger contract: every run and every job state change, the single source of truth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from docbatch.models import JobState


@dataclass(slots=True)
class LedgerEvent:
    """One state change of one document in one run (appended, never rewritten)."""

    run_id: str
    source_id: str
    state: JobState
    at: float
    attempt: int = 0
    path: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    priority: int | None = None
    sha256: str | None = None
    kind: str | None = None
    recipe_hash: str | None = None
    error_kind: str | None = None
    message: str | None = None
    output_path: str | None = None
    pid: int | None = None
    host: str | None = None
    duration_s: float | None = None
    details: str | None = None  # compact JSON: stage times, peak RSS, processor


@dataclass(slots=True)
class RunRecord:
    """One row of the runs table."""

    run_id: str
    started_at: float
    pid: int
    host: str
    command: str
    config_json: str
    output_dir: str
    executor: str
    parent_run_id: str | None = None


class Ledger(Protocol):
    """Storage for runs and job events. Called from one writer at a time; readers never block it."""

    def begin_run(self, run: RunRecord) -> None:
        """Record that a run started."""

    def apply(self, events: list[LedgerEvent]) -> None:
        """Append events and update each document's current state, in one transaction."""

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        finished_at: float,
        exit_code: int,
        report_path: str | None,
        counts_json: str,
    ) -> None:
        """Record how a run ended."""

    def close(self) -> None:
        """Release the database."""
