"""The default ledger store: a SQLite file in the state folder (see checkpoint/sqlite.py)."""

from __future__ import annotations

from pathlib import Path

from docbatch.checkpoint.reader import LedgerReader
from docbatch.checkpoint.sqlite import SqliteLedger


class SqliteStore:
    """Opens ``<state folder>/ledger.sqlite``: the writer creates it, the reader opens it read-only."""

    def open_writer(self, state_dir: Path) -> SqliteLedger:
        return SqliteLedger.open(state_dir)

    def open_reader(self, state_dir: Path) -> LedgerReader:
        return LedgerReader.open(state_dir)
