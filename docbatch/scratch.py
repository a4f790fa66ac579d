"""A run's bookkeeping that grows with its documents, kept out of memory.

Some checks need to remember every document of a run: which output file each one claimed (to refuse
a second document writing over it), which ids and files a manifest has given already. Kept in Python
dicts and sets, that is a few hundred bytes a document: some 250 MB for a million, on a coordinator
that otherwise holds the same whatever the run's size. A ScratchTable keeps it in a private,
temporary SQLite database instead: at most its page cache (CACHE_KIB) in memory, the rest in a
temporary file (in SQLITE_TMPDIR or TMPDIR, else /var/tmp or /tmp) that SQLite deletes on close or
when the process ends, however it ends. A lookup or an insert costs a few microseconds.

When that file cannot be written (the temporary folder full or read-only), the table moves what it
holds into a dict and goes on there, with one warning: the run stays right, only its memory grows.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading

CACHE_KIB = 1024
# Writes between commits. A commit syncs nothing (synchronous=OFF): it only bounds what a failing
# file takes with it, since SQLite rolls back the open transaction when the disk is full.
COMMIT_EVERY = 1000
_log = logging.getLogger("docbatch")


class ScratchTable:
    """A str -> str map (or a set of str, with ``add``) of one run, on disk past its page cache.

    Opened on first use; nothing is ever synced, and ``close`` drops it all. Safe from several threads
    (calls are serialised)."""

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None
        self._memory: dict[str, str] | None = None  # where entries go once the file refused them
        self._lock = threading.Lock()
        self._count = 0
        self._uncommitted = 0

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            # "": a private, temporary on-disk database, deleted by SQLite when it is closed. The rollback
            # journal stays in memory (a few pages: a commit every COMMIT_EVERY writes); without one
            # a failed write (disk full) would leave the table malformed.
            db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            db.execute("PRAGMA journal_mode=MEMORY")
            db.execute("PRAGMA synchronous=OFF")
            db.execute("CREATE TABLE entries (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID")
            db.execute("BEGIN")
            self._db = db
        return self._db

    def _wrote(self, db: sqlite3.Connection) -> None:
        self._uncommitted += 1
        if self._uncommitted >= COMMIT_EVERY:
            db.execute("COMMIT")
            db.execute("BEGIN")
            self._uncommitted = 0

    def _to_memory(self, error: sqlite3.Error) -> dict[str, str]:
        """The file failed (``error``): go on in a dict with what the table can still read."""
        _log.warning(
            "the temporary folder refused docbatch's scratch table (%s): this run keeps it in memory from "
            "now on, without up to its last %d entries (set TMPDIR or SQLITE_TMPDIR to a folder with room)",
            error,
            COMMIT_EVERY,
        )
        memory: dict[str, str] = {}
        db, self._db = self._db, None
        if db is not None:
            # What cannot be read back is lost: at worst a collision goes unseen.
            with contextlib.suppress(sqlite3.Error):
                memory.update((_text(key), _text(value)) for key, value in db.execute("SELECT key, value FROM entries"))
            db.close()
        self._uncommitted = 0
        self._memory = memory
        self._count = len(memory)
        return memory

    def put_new(self, key: str, value: str) -> str | None:
        """Set ``key`` to ``value`` unless it is there: None when set now, else the value it had."""
        with self._lock:
            if self._memory is None:
                try:
                    db = self._open()
                    if db.execute("INSERT OR IGNORE INTO entries VALUES (?, ?)", (_raw(key), _raw(value))).rowcount:
                        self._count += 1
                        self._wrote(db)
                        return None
                    return _text(db.execute("SELECT value FROM entries WHERE key = ?", (_raw(key),)).fetchone()[0])
                except sqlite3.Error as error:
                    self._to_memory(error)
            assert self._memory is not None
            earlier = self._memory.get(key)
            if earlier is None:
                self._memory[key] = value
                self._count += 1
            return earlier

    def get(self, key: str) -> str | None:
        with self._lock:
            if self._memory is None:
                if self._db is None:
                    return None
                try:
                    row = self._db.execute("SELECT value FROM entries WHERE key = ?", (_raw(key),)).fetchone()
                    return None if row is None else _text(row[0])
                except sqlite3.Error as error:
                    self._to_memory(error)
            assert self._memory is not None
            return self._memory.get(key)

    def __setitem__(self, key: str, value: str) -> None:
        with self._lock:
            if self._memory is None:
                try:
                    db = self._open()
                    if db.execute("UPDATE entries SET value = ? WHERE key = ?", (_raw(value), _raw(key))).rowcount == 0:
                        db.execute("INSERT INTO entries VALUES (?, ?)", (_raw(key), _raw(value)))
                        self._count += 1
                    self._wrote(db)
                    return
                except sqlite3.Error as error:
                    self._to_memory(error)
            assert self._memory is not None
            self._memory[key] = value
            self._count = len(self._memory)

    def add(self, key: str) -> bool:
        """Add ``key`` as a member of a set; False when it was there already."""
        return self.put_new(key, "") is None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def discard(self, key: str) -> None:
        with self._lock:
            if self._memory is None:
                if self._db is None:
                    return
                try:
                    self._count -= self._db.execute("DELETE FROM entries WHERE key = ?", (_raw(key),)).rowcount
                    self._wrote(self._db)
                    return
                except sqlite3.Error as error:
                    self._to_memory(error)
            assert self._memory is not None
            self._memory.pop(key, None)
            self._count = len(self._memory)

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        """Drop every entry and the temporary file; the table may be used again (empty, on disk)."""
        with self._lock:
            db, self._db = self._db, None
            self._memory = None
            self._count = self._uncommitted = 0
            if db is not None:
                db.close()  # SQLite deletes the file


def _raw(text: str) -> bytes:
    """Stored as bytes: file names that are not UTF-8 reach Python as lone surrogates, which SQLite's
    text (strict UTF-8) refuses; "surrogatepass" keeps every such string, and gives it back as it was."""
    return text.encode("utf-8", "surrogatepass")


def _text(raw: object) -> str:
    return bytes(raw).decode("utf-8", "surrogatepass") if isinstance(raw, bytes | bytearray | memoryview) else str(raw)
