"""Read-only access to the ledger: the planner's per-document lookups and `docbatch status`.

A connection of its own, so reads never wait for the writer (SQLite WAL lets both go on at once).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from docbatch.checkpoint.sqlite import LEDGER_FILE, SCHEMA_VERSION
from docbatch.errors import LedgerError


@dataclass(frozen=True, slots=True)
class DocumentRow:
    """A document's current state in the ledger."""

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
        except sqlite3.DatabaseError as error:
            raise LedgerError(f"{path}: cannot open the ledger: {error}") from error
        if version != SCHEMA_VERSION:
            raise LedgerError(f"{path}: ledger schema version {version}, this docbatch reads {SCHEMA_VERSION}")
        return cls(connection, path)

    def document(self, source_id: str) -> DocumentRow | None:
        row = self._connection.execute(
            "SELECT source_id, state, size, mtime_ns, sha256, recipe_hash, attempts, last_run_id, error_kind, "
            "message, path FROM documents WHERE source_id = ?",
            (source_id,),
        ).fetchone()
        return DocumentRow(*row) if row else None

    def query(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        return list(self._connection.execute(sql, parameters))

    def close(self) -> None:
        self._connection.close()
