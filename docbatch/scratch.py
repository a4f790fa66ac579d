"""A run's bookkeeping that grows with its documents, kept out of memory.

Some checks need to remember every document of a run: which output file each one claimed (to refuse
a second document writing over it), which ids and files a manifest has given already. Kept in Python
dicts and sets, that is a few hundred bytes a document: some 250 MB for a million, on a coordinator
that otherwise holds the same whatever the run's size. A ScratchTable keeps it in a private,
temporary SQLite database instead: at most its page cache (CACHE_KIB) in memory, the rest in a
temporary file (in SQLITE_TMPDIR or TMPDIR, else /var/tmp or /tmp) that SQLite deletes on close or
when the process ends, however it ends. A lookup or an insert costs a few microseconds.
"""

from __future__ import annotations

import sqlite3
import threading

CACHE_KIB = 1024


class ScratchTable:
    """A str -> str map (or a set of str, with ``add``) of one run, on disk past its page cache.

    Opened on first use; one transaction that is never committed, so nothing is ever synced, and
    ``close`` drops it all. Safe from several threads (calls are serialised)."""

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._count = 0

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            # "": a private, temporary on-disk database, deleted by SQLite when it is closed.
            db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute("CREATE TABLE entries (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
            db.execute("BEGIN")
            self._db = db
        return self._db

    def put_new(self, key: str, value: str) -> str | None:
        """Set ``key`` to ``value`` unless it is there: None when set now, else the value it had."""
        with self._lock:
            db = self._open()
            if db.execute("INSERT OR IGNORE INTO entries VALUES (?, ?)", (key, value)).rowcount:
                self._count += 1
                return None
            return str(db.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()[0])

    def get(self, key: str) -> str | None:
        with self._lock:
            if self._db is None:
                return None
            row = self._db.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])

    def __setitem__(self, key: str, value: str) -> None:
        with self._lock:
            db = self._open()
            if db.execute("UPDATE entries SET value = ? WHERE key = ?", (value, key)).rowcount == 0:
                db.execute("INSERT INTO entries VALUES (?, ?)", (key, value))
                self._count += 1

    def add(self, key: str) -> bool:
        """Add ``key`` as a member of a set; False when it was there already."""
        with self._lock:
            added = bool(self._open().execute("INSERT OR IGNORE INTO entries VALUES (?, '')", (key,)).rowcount)
            self._count += added
            return added

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def discard(self, key: str) -> None:
        with self._lock:
            if self._db is not None:
                self._count -= self._db.execute("DELETE FROM entries WHERE key = ?", (key,)).rowcount

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        """Drop every entry and the temporary file; the table may be used again (empty)."""
        with self._lock:
            db, self._db = self._db, None
            self._count = 0
            if db is not None:
                db.close()  # rolls back the never-committed transaction; SQLite deletes the file
