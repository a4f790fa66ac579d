"""The ledger contract: every run and every job state change, the single source of truth.

A run writes through a ``Ledger`` and its planner reads through a ``LedgerLookup``; a ``LedgerStore``
opens both for a state folder. Two stores exist: SQLite (checkpoint/stores.py, the default) and one
in memory (checkpoint/memory.py, for fast tests of the engine and the server).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from docbatch.models import JobState

# The source_id of a run's own events (queued, running, finished, stop_requested, ...) in the events
# table: no document has an empty id, so document queries never see them.
RUN_EVENT_SOURCE = ""


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


@dataclass(frozen=True, slots=True)
class DocumentRow:
    """A document's current state in the ledger (``state``: a JobState value; ``attempts``: tries
    started over all runs; ``path``: the source file as last recorded, absolute)."""

    source_id: str
    state: str
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    recipe_hash: str | None
    attempts: int
    last_run_id: str | None
    error_kind: str | None
    message: str | None
    path: str | None
    priority: int | None = None


class Ledger(Protocol):
    """Storage for runs and job events. Called from one writer at a time; readers never block it.

    Every method may raise EnvironmentFailed (exit 5) when the machine refuses the write (disk full,
    read-only); the run then stops as an environment failure."""

    @property
    def path(self) -> Path:
        """Where the ledger lives (shown in the run report)."""
        ...

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

    def heartbeat(self, run_id: str, at: float, counts_json: str) -> None:
        """Publish a live run's counters (``at``: time.time() seconds) for `docbatch status`."""

    def close(self) -> None:
        """Release the database."""


class LedgerLookup(Protocol):
    """What the planner reads of the ledger while a run writes it."""

    def document(self, source_id: str) -> DocumentRow | None:
        """The current row of ``source_id``, None if never seen."""
        ...

    def output_owners(self, key: str, source_id: str) -> list[tuple[str, str | None, str]]:
        """Other documents recorded with the output file ``key`` (a real path, matched without ASCII
        case): (source_id, source path, key) each."""
        ...

    def close(self) -> None:
        """Release what the lookups hold."""


class LedgerStore(Protocol):
    """Opens a run's ledger for a state folder: its writer first, then the planner's lookups."""

    def open_writer(self, state_dir: Path) -> Ledger:
        """The ledger of ``state_dir`` (created when missing); raises LedgerUnusable (exit 5) when it
        cannot be opened or written."""
        ...

    def open_reader(self, state_dir: Path) -> LedgerLookup:
        """Lookups into the ledger ``open_writer`` opened; never blocked by its writes."""
        ...
