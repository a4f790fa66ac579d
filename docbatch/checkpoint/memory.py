"""A ledger held in memory: the same writer and lookup contract as the SQLite one (checkpoint/base.py),
so the engine (and later the server) can run whole batches in fast tests. One ``MemoryLedger`` is
its own store: pass the same instance to several runs to see resume and retries across them.

Documents merge their events exactly as the SQLite upsert does: a running event counts an attempt, a
pending one takes it back; state, error kind and message are replaced; the other fields keep their
last known value when an event has none.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from docbatch.checkpoint.base import DocumentRow, LedgerEvent, RunRecord
from docbatch.models import JobState
from docbatch.outputs.paths import output_key

# Fields an event carries over to its document only when it has a value (see the SQLite upsert).
_KEPT_WHEN_MISSING = ("path", "size", "mtime_ns", "priority", "sha256", "kind", "recipe_hash")


@dataclass
class MemoryRun:
    """A run as the ledger saw it: how it started, its last heartbeat and how it ended."""

    record: RunRecord
    status: str = "running"
    finished_at: float | None = None
    exit_code: int | None = None
    report_path: str | None = None
    counts_json: str | None = None
    heartbeat_at: float | None = None


@dataclass
class _Document:
    source_id: str
    state: str
    attempts: int = 0
    last_run_id: str | None = None
    error_kind: str | None = None
    message: str | None = None
    path: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    priority: int | None = None
    sha256: str | None = None
    kind: str | None = None
    recipe_hash: str | None = None
    output_path: str | None = None
    output_key: str | None = None
    updated_at: float = 0.0

    def merge(self, event: LedgerEvent) -> None:
        self.state, self.error_kind, self.message = event.state.value, event.error_kind, event.message
        self.last_run_id, self.updated_at = event.run_id, event.at
        self.attempts += 1 if event.state is JobState.RUNNING else -1 if event.state is JobState.PENDING else 0
        for name in _KEPT_WHEN_MISSING:
            value = getattr(event, name)
            if value is not None:
                setattr(self, name, value)
        if event.output_path:
            self.output_path = os.path.abspath(event.output_path)
            self.output_key = output_key(event.output_path)

    def row(self) -> DocumentRow:
        return DocumentRow(
            source_id=self.source_id, state=self.state, size=self.size, mtime_ns=self.mtime_ns, sha256=self.sha256,
            recipe_hash=self.recipe_hash, attempts=self.attempts, last_run_id=self.last_run_id,
            error_kind=self.error_kind, message=self.message, path=self.path, priority=self.priority,
        )  # fmt: skip


class MemoryLedger:
    """Runs, events and documents in dicts and a list. Thread-safe: the recorder applies events from
    a worker thread while the planner reads from the event loop."""

    def __init__(self) -> None:
        self.runs: dict[str, MemoryRun] = {}
        self.events: list[LedgerEvent] = []
        self._documents: dict[str, _Document] = {}
        self._lock = threading.Lock()

    # The store: this one ledger whatever the state folder.
    def open_writer(self, state_dir: Path) -> MemoryLedger:
        return self

    def open_reader(self, state_dir: Path) -> MemoryLedger:
        return self

    @property
    def path(self) -> Path:
        return Path(":memory:")

    # The writer.
    def begin_run(self, run: RunRecord) -> None:
        with self._lock:
            self.runs[run.run_id] = MemoryRun(record=dataclasses.replace(run))

    def apply(self, events: list[LedgerEvent]) -> None:
        with self._lock:
            for event in events:
                self.events.append(dataclasses.replace(event))
                document = self._documents.get(event.source_id)
                if document is None:
                    document = self._documents[event.source_id] = _Document(event.source_id, event.state.value)
                document.merge(event)

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
        with self._lock:
            run = self.runs[run_id]
            run.status, run.finished_at, run.exit_code = status, finished_at, exit_code
            run.report_path = os.path.abspath(report_path) if report_path else None
            run.counts_json = counts_json

    def heartbeat(self, run_id: str, at: float, counts_json: str) -> None:
        with self._lock:
            run = self.runs[run_id]
            run.heartbeat_at, run.counts_json = at, counts_json

    def close(self) -> None:
        """Nothing to release: the contents stay for the next run and for the test to read."""

    # The lookups.
    def document(self, source_id: str) -> DocumentRow | None:
        with self._lock:
            found = self._documents.get(source_id)
            return found.row() if found is not None else None

    def output_owners(self, key: str, source_id: str) -> list[tuple[str, str | None, str]]:
        folded = _ascii_casefold(key)
        with self._lock:
            return [
                (document.source_id, document.path, document.output_key)
                for document in self._documents.values()
                if document.output_key is not None
                and document.source_id != source_id
                and _ascii_casefold(document.output_key) == folded
            ]

    def documents(self) -> dict[str, DocumentRow]:
        """Every document's current row, by source id."""
        with self._lock:
            return {source_id: document.row() for source_id, document in self._documents.items()}

    def run_events(self, run_id: str) -> list[LedgerEvent]:
        """The events of one run, in the order they were applied."""
        with self._lock:
            return [event for event in self.events if event.run_id == run_id]


def _ascii_casefold(text: str) -> str:
    """SQLite's NOCASE: only ASCII letters fold."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
