"""The SQLite ledger: WAL so that `docbatch status` can read while a run writes, a busy timeout,
explicit transactions that roll back on error, and a schema version checked at open."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Collection
from pathlib import Path
from types import TracebackType

from docbatch.checkpoint.base import RUN_EVENT_SOURCE, LedgerEvent, RunRecord
from docbatch.errors import LedgerUnusable
from docbatch.models import JobState
from docbatch.outputs.paths import output_key

# 2: documents.output_key (the output file's real path) and its index, to find which document owns
# an output file. Ledgers of version 1 are migrated when a run opens them.
SCHEMA_VERSION = 2
READABLE_VERSIONS = frozenset({1, SCHEMA_VERSION})  # what `status` and `report` can read as they are
LEDGER_FILE = "ledger.sqlite"

_SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    parent_run_id TEXT,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,
    pid INTEGER,
    host TEXT,
    command TEXT,
    config TEXT,
    output_dir TEXT,
    executor TEXT,
    report_path TEXT,
    exit_code INTEGER,
    counts TEXT,
    heartbeat_at REAL
);
CREATE TABLE documents (
    source_id TEXT PRIMARY KEY,
    path TEXT,
    size INTEGER,
    mtime_ns INTEGER,
    priority INTEGER,
    sha256 TEXT,
    kind TEXT,
    state TEXT NOT NULL,
    recipe_hash TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_run_id TEXT,
    error_kind TEXT,
    message TEXT,
    output_path TEXT,
    updated_at REAL,
    output_key TEXT
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at REAL NOT NULL,
    pid INTEGER,
    host TEXT,
    error_kind TEXT,
    message TEXT,
    duration_s REAL,
    details TEXT
);
CREATE INDEX events_by_run ON events (run_id, state);
CREATE INDEX documents_by_state ON documents (state);
CREATE INDEX documents_by_run ON documents (last_run_id, state);
CREATE INDEX documents_by_output ON documents (output_key COLLATE NOCASE) WHERE output_key IS NOT NULL;
"""

# Version 1 -> 2. Recorded output paths may be relative: they are read from the working directory of
# the run that migrates, which is where runs with the default state folder (./.docbatch) start.
_MIGRATE_TO_2 = (
    "ALTER TABLE documents ADD COLUMN output_key TEXT",
    "CREATE INDEX documents_by_output ON documents (output_key COLLATE NOCASE) WHERE output_key IS NOT NULL",
)

_INSERT_EVENT = """
INSERT INTO events
    (run_id, source_id, state, attempt, at, pid, host, error_kind, message, duration_s, details)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_RUN_COLUMNS = "run_id, started_at, pid, host, command, config, output_dir, executor, parent_run_id, status"
_QUEUE_RUN = f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued')"
# A queued run's row (see queue_run) is taken over when it starts.
_BEGIN_RUN = f"""
INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running')
ON CONFLICT (run_id) DO UPDATE SET
    started_at = excluded.started_at, pid = excluded.pid, host = excluded.host, command = excluded.command,
    config = excluded.config, output_dir = excluded.output_dir, executor = excluded.executor,
    parent_run_id = excluded.parent_run_id, status = 'running', finished_at = NULL, exit_code = NULL
"""

# A document row is created when a run first touches it; later events update only what they know.
_UPSERT_DOCUMENT = """
INSERT INTO documents (source_id, path, size, mtime_ns, priority, sha256, kind, state, recipe_hash,
                       attempts, last_run_id, error_kind, message, output_path, updated_at, output_key)
VALUES (:source_id, :path, :size, :mtime_ns, :priority, :sha256, :kind, :state, :recipe_hash,
        :started, :run_id, :error_kind, :message, :output_path, :at, :output_key)
ON CONFLICT (source_id) DO UPDATE SET
    path = coalesce(excluded.path, path),
    size = coalesce(excluded.size, size),
    mtime_ns = coalesce(excluded.mtime_ns, mtime_ns),
    priority = coalesce(excluded.priority, priority),
    sha256 = coalesce(excluded.sha256, sha256),
    kind = coalesce(excluded.kind, kind),
    state = excluded.state,
    recipe_hash = coalesce(excluded.recipe_hash, recipe_hash),
    attempts = attempts + excluded.attempts,
    last_run_id = excluded.last_run_id,
    error_kind = excluded.error_kind,
    message = excluded.message,
    output_path = coalesce(excluded.output_path, output_path),
    updated_at = excluded.updated_at,
    output_key = coalesce(excluded.output_key, output_key)
"""


def _migrate_to_2(connection: sqlite3.Connection) -> None:
    """Add documents.output_key, filled from the recorded output paths, in one transaction."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        if connection.execute("PRAGMA user_version").fetchone()[0] == 1:  # not migrated meanwhile
            for statement in _MIGRATE_TO_2:
                connection.execute(statement)
            rows = connection.execute("SELECT source_id, output_path FROM documents WHERE output_path IS NOT NULL")
            connection.executemany(
                "UPDATE documents SET output_key = ? WHERE source_id = ?",
                [(output_key(str(path)), source_id) for source_id, path in rows.fetchall()],
            )
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class SqliteLedger:
    """One connection used by one writer at a time (the recorder serialises calls)."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, state_dir: Path) -> SqliteLedger:
        """Open (creating if needed) the ledger in ``state_dir``.

        Raises LedgerUnusable (exit 5) naming the ledger's path when it is not a SQLite file, has a
        schema this docbatch does not read, or cannot be created or written (read-only, disk full)."""
        path = state_dir / LEDGER_FILE
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves; check_same_thread=False because
            # batches are applied from worker threads, one at a time under self._lock.
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=30000")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                connection.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
            elif version == 1:
                _migrate_to_2(connection)
            elif version != SCHEMA_VERSION:
                connection.close()
                raise LedgerUnusable(f"{path}: ledger schema version {version}, this docbatch reads {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as error:
            raise LedgerUnusable(f"{path}: cannot open the ledger: {ledger_problem(error)}") from error
        except OSError as error:  # the state folder itself could not be made
            raise LedgerUnusable(f"{path}: cannot open the ledger: {error.strerror or error}") from error
        return cls(connection, path)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._connection, self._lock, self.path)

    def begin_run(self, run: RunRecord) -> None:
        """Record that a run started: a new row, or the row `queue_run` left, now running."""
        with self._transaction() as db:
            db.execute(_BEGIN_RUN, _run_values(run))
            _run_event(db, run.run_id, "running", run.started_at)

    def queue_run(self, run: RunRecord) -> None:
        """Record a run accepted but not started (`docbatch serve` runs one at a time): status
        'queued' since ``run.started_at`` (the time it was accepted), no pid; `begin_run` of the same
        id later takes the row over, so a queued run outlives a restart of the server."""
        with self._transaction() as db:
            run_id, started_at, _pid, *rest = _run_values(run)  # no process runs it yet
            db.execute(_QUEUE_RUN, (run_id, started_at, None, *rest))
            _run_event(db, run.run_id, "queued", run.started_at)

    def mark_run(
        self,
        run_id: str,
        state: str,
        at: float,
        *,
        message: str | None = None,
        ends: bool = False,
        exit_code: int | None = None,
    ) -> None:
        """Append a run event ``state`` (`stop_requested`, `expired`, ...) to the event sequence; with
        ``ends``, a run still queued ends with status ``state`` and ``exit_code`` (cancelled before it
        started, or it could not start)."""
        with self._transaction() as db:
            if ends:
                db.execute(
                    "UPDATE runs SET status = ?, finished_at = ?, exit_code = ? WHERE run_id = ? AND status = 'queued'",
                    (state, at, exit_code, run_id),
                )
            _run_event(db, run_id, state, at, message)

    def apply(self, events: list[LedgerEvent]) -> None:
        if not events:
            return
        with self._transaction() as db:
            db.executemany(
                _INSERT_EVENT,
                [
                    (
                        e.run_id,
                        e.source_id,
                        e.state.value,
                        e.attempt,
                        e.at,
                        e.pid,
                        e.host,
                        e.error_kind,
                        e.message,
                        e.duration_s,
                        e.details,
                    )
                    for e in events
                ],
            )
            db.executemany(_UPSERT_DOCUMENT, _document_rows(events))

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
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, exit_code = ?, report_path = ?, counts = ? "
                "WHERE run_id = ?",
                (status, finished_at, exit_code, _absolute(report_path), counts_json, run_id),
            )
            _run_event(db, run_id, status, finished_at, details=f'{{"exit_code": {int(exit_code)}}}')

    def heartbeat(self, run_id: str, at: float, counts_json: str) -> None:
        """Publish a live run's counters for `docbatch status` (readers never query the hot tables)."""
        with self._transaction() as db:
            db.execute("UPDATE runs SET counts = ?, heartbeat_at = ? WHERE run_id = ?", (counts_json, at, run_id))

    def prune(self, finished_before: float, keep: Collection[str] = ()) -> tuple[int, int]:
        """Delete runs that ended before the cutoff and their events; returns (runs, events) removed.
        Running runs, the runs named in ``keep`` and the documents table (the current state resume
        relies on) are kept, and so is the newest event row whatever its run: SQLite gives a new
        row the largest id + 1, and a follower of the event sequence (`docbatch serve`'s
        `/v1/events?after=ID`) must never see an id again."""
        kept = json.dumps(sorted(keep))
        old = (
            "SELECT run_id FROM runs WHERE status != 'running' AND finished_at < ? "
            "AND run_id NOT IN (SELECT value FROM json_each(?))"
        )
        with self._transaction() as db:
            events = db.execute(
                f"DELETE FROM events WHERE run_id IN ({old}) AND id < (SELECT max(id) FROM events)",
                (finished_before, kept),
            ).rowcount
            runs = db.execute(f"DELETE FROM runs WHERE run_id IN ({old})", (finished_before, kept)).rowcount
        return runs, events

    def query(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Read-only helper for status views and tests."""
        with self._lock:
            return list(self._connection.execute(sql, parameters))

    def close(self) -> None:
        with self._lock:
            self._connection.close()


_EVENT_FIELDS = LedgerEvent.__slots__


# Columns the upsert overwrites even with NULL; the others keep their value when the event has none.
_REPLACED = frozenset({"state", "error_kind", "message", "run_id", "at"})


def _document_rows(events: list[LedgerEvent]) -> list[dict[str, object]]:
    """One upsert per document per batch: a document's running and final events, usually in the same
    batch, are merged the way the upsert itself would merge them (halves the writes for short jobs)."""
    rows: dict[str, dict[str, object]] = {}
    for event in events:
        row = _document_row(event)
        earlier = rows.get(event.source_id)
        if earlier is not None:
            for name, value in row.items():
                if value is None and name not in _REPLACED:
                    row[name] = earlier[name]
            row["started"] = int(earlier["started"]) + int(row["started"])  # type: ignore[call-overload]
        rows[event.source_id] = row
    return list(rows.values())


def _document_row(event: LedgerEvent) -> dict[str, object]:
    # getattr per field, not dataclasses.astuple: that deep-copies every value, and this runs for
    # every state change of every document.
    row = {name: getattr(event, name) for name in _EVENT_FIELDS}
    row["state"] = event.state.value
    if event.output_path:
        row["output_path"] = os.path.abspath(event.output_path)
        row["output_key"] = output_key(event.output_path)
    else:
        row["output_key"] = None
    # A running event counts an attempt; a pending one (handed over, never started) takes it back.
    row["started"] = 1 if event.state is JobState.RUNNING else -1 if event.state is JobState.PENDING else 0
    return row


# SQLite's primary result codes for a machine that fails the ledger, in words.
_SQLITE_CAUSES = {
    3: "no permission",  # SQLITE_PERM
    8: "read-only",  # SQLITE_READONLY
    10: "I/O error",  # SQLITE_IOERR
    11: "the file is damaged",  # SQLITE_CORRUPT
    13: "disk full",  # SQLITE_FULL
    14: "cannot open the file",  # SQLITE_CANTOPEN
    26: "not a docbatch ledger (not a SQLite file)",  # SQLITE_NOTADB
}


def _cause(error: BaseException) -> str | None:
    code = getattr(error, "sqlite_errorcode", None)
    return _SQLITE_CAUSES.get(code & 0xFF) if isinstance(error, sqlite3.Error) and isinstance(code, int) else None


def ledger_problem(error: sqlite3.Error) -> str:
    """What SQLite says went wrong, led by the cause in words: `disk full (database or disk is full)`."""
    cause = _cause(error)
    return f"{cause} ({error})" if cause else str(error)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT under the writer's lock; rolled back on error. A write the machine
    refuses (read-only file, disk full, I/O error) raises LedgerUnusable naming the ledger."""

    def __init__(self, connection: sqlite3.Connection, lock: threading.Lock, path: Path) -> None:
        self._connection = connection
        self._lock = lock
        self._path = path

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._connection.execute("BEGIN IMMEDIATE")
        except BaseException as error:
            self._lock.release()
            if _is_environmental(error):
                raise self._unusable(error) from error
            raise
        return self._connection

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                self._commit()
            else:
                # SQLite may have rolled back already (a full disk does): the first error is the one to tell.
                with contextlib.suppress(sqlite3.Error):
                    self._connection.execute("ROLLBACK")
                if value is not None and _is_environmental(value):
                    raise self._unusable(value) from value
        finally:
            self._lock.release()

    def _commit(self) -> None:
        try:
            self._connection.execute("COMMIT")
        except sqlite3.Error as error:
            with contextlib.suppress(sqlite3.Error):
                self._connection.execute("ROLLBACK")
            if _is_environmental(error):
                raise self._unusable(error) from error
            raise

    def _unusable(self, error: BaseException) -> LedgerUnusable:
        assert isinstance(error, sqlite3.Error)
        return LedgerUnusable(f"{self._path}: cannot write the ledger: {ledger_problem(error)}")


def _is_environmental(error: BaseException) -> bool:
    """A failure of the file or the machine under it (by SQLite's result code), not a query docbatch
    got wrong, which stays a bug with its traceback."""
    return _cause(error) is not None


def _absolute(path: str | None) -> str | None:
    """Paths are recorded absolute: the ledger is read by commands run from other folders."""
    return os.path.abspath(path) if path else path


def _run_values(run: RunRecord) -> tuple[object, ...]:
    values = (run.run_id, run.started_at, run.pid, run.host, run.command, run.config_json)
    return (*values, _absolute(run.output_dir), run.executor, run.parent_run_id)


def _run_event(
    db: sqlite3.Connection, run_id: str, state: str, at: float, message: str | None = None, details: str | None = None
) -> None:
    """A run's change in the same sequence as its documents' (source_id RUN_EVENT_SOURCE), so that a
    follower of the event sequence sees both in order and resumes from one id."""
    db.execute(_INSERT_EVENT, (run_id, RUN_EVENT_SOURCE, state, 0, at, None, None, None, message, None, details))
