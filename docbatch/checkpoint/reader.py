"""Read-only access to the ledger: the planner's per-document lookups and `docbatch status`.

A connection of its own, so reads never wait for the writer (SQLite WAL lets both go on at once).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from docbatch.checkpoint.base import DocumentRow as DocumentRow  # re-exported: the rows status and retry read
from docbatch.checkpoint.sqlite import LEDGER_FILE, READABLE_VERSIONS, SCHEMA_VERSION, ledger_problem
from docbatch.errors import LedgerError, LedgerUnusable


class LedgerReader:
    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._connection = connection
        self.path = path

    @classmethod
    def open(cls, state_dir: Path) -> LedgerReader:
        path = state_dir / LEDGER_FILE
        if not path.is_file():
            raise LedgerError(f"no ledger in {state_dir} (run `docbatch run` there first, or pass --state)")
        try:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=10)
            version = connection.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as error:  # damaged, or not a ledger: the machine's to fix (exit 5)
            raise LedgerUnusable(f"{path}: cannot open the ledger: {ledger_problem(error)}") from error
        if version not in READABLE_VERSIONS:
            raise LedgerUnusable(f"{path}: ledger schema version {version}, this docbatch reads {SCHEMA_VERSION}")
        return cls(connection, path)

    def document(self, source_id: str) -> DocumentRow | None:
        """The ledger's row of ``source_id``, None if never seen. Raises LedgerUnusable (exit 5) when the
        ledger is damaged (a page that no longer reads as SQLite)."""
        rows = self.query(
            "SELECT source_id, state, size, mtime_ns, sha256, recipe_hash, attempts, last_run_id, error_kind, "
            "message, path, priority FROM documents WHERE source_id = ?",
            (source_id,),
        )
        return DocumentRow(*rows[0]) if rows else None  # type: ignore[arg-type]

    def output_owners(self, key: str, source_id: str) -> list[tuple[str, str | None, str]]:
        """Other documents recorded with the output file ``key`` (a real path, matched without
        ASCII case: the caller decides whether case matters): (source_id, source path, key) each."""
        rows = self.query(
            "SELECT source_id, path, output_key FROM documents WHERE output_key = ? COLLATE NOCASE AND source_id != ?",
            (key, source_id),
        )
        return [(str(other), None if path is None else str(path), str(found)) for other, path, found in rows]

    def query(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        try:
            return list(self._connection.execute(sql, parameters))
        except sqlite3.DatabaseError as error:
            raise LedgerUnusable(f"{self.path}: cannot read the ledger: {ledger_problem(error)}") from error

    def close(self) -> None:
        self._connection.close()


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    parent_run_id: str | None
    started_at: float
    finished_at: float | None
    status: str
    pid: int | None
    host: str | None
    command: str | None
    config_json: str | None
    output_dir: str | None
    executor: str | None
    report_path: str | None
    exit_code: int | None
    counts_json: str | None
    heartbeat_at: float | None


RUN_COLUMNS = (
    "run_id, parent_run_id, started_at, finished_at, status, pid, host, command, config, output_dir, executor, "
    "report_path, exit_code, counts, heartbeat_at"
)


def find_run(reader: LedgerReader, run: str | None) -> RunRow:
    """The run named by id (or a unique prefix of one), or else the latest run that started work
    (see :func:`latest_run`); raise LedgerError when there is none."""
    if run is None:
        latest = latest_run(reader)
        if latest is None:
            raise LedgerError(f"{reader.path}: no runs recorded yet")
        return latest
    rows = reader.query(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id LIKE ? || '%' LIMIT 2", (run,))
    if not rows:
        raise LedgerError(f"no run {run!r} in {reader.path} (see `docbatch status --runs`)")
    if len(rows) > 1:
        raise LedgerError(f"{run!r} matches several runs: give more of the run id")
    return RunRow(*rows[0])  # type: ignore[arg-type]


# Exit codes of a run that ended before doing anything of its own: a usage error, a held lock, an
# environment that failed it.
_NEVER_STARTED_EXITS = (2, 3, 5)


def latest_run(reader: LedgerReader) -> RunRow | None:
    """The run that `status`, `report` and `retry-failed` mean by default: the most recent one that is
    live or touched at least one document. A run that ended without touching any (a coordinator
    killed while starting, an environment that failed it, a retry stopped before its first document)
    is passed over, so it never hides the run an operator wants to look at or retry. A plain run
    that simply found nothing to do (an empty folder) still counts."""
    for row in list_runs(reader, limit=200):
        if run_started_work(reader, row):
            return row
    return None


def run_started_work(reader: LedgerReader, row: RunRow) -> bool:
    """True when the run is live or recorded a document's state change (see :func:`latest_run`)."""
    if reader.query("SELECT 1 FROM events WHERE run_id = ? AND source_id != '' LIMIT 1", (row.run_id,)):
        return True
    if row.status == "running":
        return _coordinator_may_live(row)
    if row.parent_run_id is not None or row.status == "failed":
        return False
    return row.exit_code not in _NEVER_STARTED_EXITS


def _coordinator_may_live(row: RunRow) -> bool:
    """False only when the run's coordinator ran on this host and its pid is gone."""
    import socket

    from docbatch.processes import pid_alive

    return not (row.host == socket.gethostname() and row.pid is not None and not pid_alive(row.pid))


def list_runs(reader: LedgerReader, limit: int | None = 50) -> list[RunRow]:
    """Runs, the most recent first; all of them when ``limit`` is None."""
    rows = reader.query(
        f"SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC LIMIT ?", (-1 if limit is None else limit,)
    )
    return [RunRow(*row) for row in rows]  # type: ignore[arg-type]


def active_jobs(reader: LedgerReader, run_id: str, limit: int = 10) -> list[tuple[str, float]]:
    """Documents of a run in state running, oldest first, with the time they started."""
    rows = reader.query(
        "SELECT source_id, updated_at FROM documents WHERE last_run_id = ? AND state = 'running' "
        "ORDER BY updated_at LIMIT ?",
        (run_id, limit),
    )
    return [(str(source_id), float(started)) for source_id, started in rows]  # type: ignore[arg-type]


def failed_documents(reader: LedgerReader, run_id: str) -> list[DocumentRow]:
    """Documents that failed or died in a run and have not succeeded since."""
    rows = reader.query(
        "SELECT source_id, state, size, mtime_ns, sha256, recipe_hash, attempts, last_run_id, error_kind, message, "
        "path, priority FROM documents d WHERE d.state IN ('failed', 'dead') AND EXISTS (SELECT 1 FROM events e "
        "WHERE e.run_id = ? AND e.source_id = d.source_id AND e.state IN ('failed', 'dead')) ORDER BY source_id",
        (run_id,),
    )
    return [DocumentRow(*row) for row in rows]  # type: ignore[arg-type]
