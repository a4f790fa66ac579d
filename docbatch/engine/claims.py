"""Who writes which output file, decided in the coordinator before a document is handed over.

Workers write the outputs themselves, so the check cannot wait for them: each document about to be
processed (or found done) claims its output file for this run, and a document whose output file is
already claimed in this run, or recorded in the ledger as another document's (and still there), fails
as ``collision``: it is never written over. With ``--format jsonl`` every document writes the same
stream; there a collision is a second document under an id the stream already carries in this run.
A ledger row of the same source file under another id is the same document, not a collision.

The claims of a run are kept in a private temporary SQLite database (ClaimTable), not in a dict: they
are one entry per document of the run, 260-360 bytes each in Python (the key, the id, the path, a
tuple and a dict slot), which made a 1,000,000-document coordinator grow by some 250 MB.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from docbatch.checkpoint.base import LedgerLookup
from docbatch.config import OutputFormat
from docbatch.discovery import display_name
from docbatch.errors import DocumentError
from docbatch.models import Document
from docbatch.outputs.paths import output_key, output_path
from docbatch.scratch import ScratchTable


def written_files() -> tuple[Path, ...]:
    """Files this process writes besides the outputs and the ledger: the --log-file, which must never
    be read back as input."""
    handlers = logging.getLogger("docbatch").handlers
    return tuple(Path(handler.baseFilename) for handler in handlers if isinstance(handler, logging.FileHandler))


def _case_insensitive(folder: Path) -> bool:
    """Whether the file system of ``folder`` folds case (a mounted share, macOS): `A.pdf.json` and
    `a.pdf.json` are then one file. Probed once, with a file of our own."""
    probe = folder / f".docbatch-case-probe-{os.getpid()}"
    try:
        probe.touch()
        try:
            return (folder / probe.name.upper()).exists()
        finally:
            probe.unlink()
    except OSError:
        return False


def _same_source(recorded: str | None, path: Path) -> bool:
    """Whether a ledger row's source is this very file, listed under another id (`./a.pdf` in one
    manifest, `a.pdf` in the next): the same document, so its output is its own to rewrite."""
    if recorded is None:
        return False
    try:
        return os.path.samefile(recorded, path)
    except OSError:
        return False


class ClaimTable:
    """Output key -> (source id, source path) of the document that claimed it, for one run: in a
    ScratchTable (docbatch/scratch.py), so on disk past a bounded page cache."""

    def __init__(self) -> None:
        self._table = ScratchTable()

    def setdefault(self, key: str, claimant: tuple[str, str]) -> tuple[str, str]:
        """The holder of ``key``: ``claimant`` when the key was free (it holds it now), else the earlier one."""
        # A NUL byte is in no path and in no id that has an output (output_path refuses them).
        holder = self._table.put_new(key, "\x00".join(claimant))
        if holder is None:
            return claimant
        holder_id, _, holder_path = holder.partition("\x00")
        return holder_id, holder_path

    def release(self, key: str) -> None:
        self._table.discard(key)

    def __len__(self) -> int:
        return len(self._table)

    def close(self) -> None:
        self._table.close()


class OutputClaims:
    """The outputs claimed in this run, and the ledger's record of earlier ones."""

    def __init__(self, root: Path, fmt: OutputFormat, reader: LedgerLookup | None) -> None:
        self._root = root
        self._format = fmt
        self._reader = reader
        self._fold = fmt is not OutputFormat.JSONL and _case_insensitive(root)
        # Output key -> (source id, source path) of the document that claimed it: an entry for every
        # document of the run, so kept out of memory (see ClaimTable).
        self._claims = ClaimTable()

    def claim(self, document: Document, *, check_ledger: bool) -> tuple[str, str] | None:
        """Claim ``document``'s output. Returns None when it may write it, else the ledger id to
        record the refusal under and the reason (naming the other document and the output file)."""
        if self._format is OutputFormat.JSONL:
            return self._claim_key(document, document.source_id, f"the stream {self._root / 'documents.jsonl'}")
        try:
            target = output_path(self._root, document.source_id, self._format)
        except DocumentError:
            return None  # an unsafe id: the worker refuses it with its own reason
        key = output_key(str(target))
        refused = self._claim_key(document, key.casefold() if self._fold else key, str(target))
        if refused is None and check_ledger and self._reader is not None:
            refused = self._ledger_owner(document, key, target)
            if refused is not None:
                self._claims.release(key.casefold() if self._fold else key)
        return refused

    def close(self) -> None:
        """Drop this run's claims (at the end of the run)."""
        self._claims.close()

    def owned_by_other_source(self, document: Document, recorded_source: str) -> tuple[str, str] | None:
        """The refusal for a document whose id the ledger records from ``recorded_source``, another
        file, when the output of that id is there (it is that file's): the ledger id to record it
        under (a row of its own, so that the other file's row stays as it is) and the reason, naming
        that file, the output and how to proceed. None when there is no such output to protect (never
        written, deleted since, or a shared stream where nothing is replaced)."""
        if self._format is OutputFormat.JSONL:
            return None
        try:
            target = output_path(self._root, document.source_id, self._format)
        except DocumentError:
            return None
        if not target.exists():
            return None
        return f"{document.source_id}#dup", (
            f"its output {target} belongs to {recorded_source}, a different file recorded under the id "
            f"{document.source_id!r} by an earlier run; it is not written over "
            "(--force replaces it, or use another -o)"
        )

    def _claim_key(self, document: Document, key: str, where: str) -> tuple[str, str] | None:
        claimant = (document.source_id, str(document.path))
        holder_id, holder_path = self._claims.setdefault(key, claimant)
        if (holder_id, holder_path) == claimant:
            return None  # its own claim (a document claims again when it is tried again)
        # The same id from two sources (a walk and a manifest) must not share one ledger row.
        ledger_id = document.source_id if holder_id != document.source_id else f"{document.source_id}#dup"
        return ledger_id, (
            f"its output {where} is already taken in this run by {holder_id!r} "
            f"({display_name(os.path.abspath(holder_path))}); it is not written over"
        )

    def _ledger_owner(self, document: Document, key: str, target: Path) -> tuple[str, str] | None:
        assert self._reader is not None
        for other, path, found in self._reader.output_owners(key, document.source_id):
            same_output = found.casefold() == key.casefold() if self._fold else found == key
            if same_output and target.exists() and not _same_source(path, document.path):
                return document.source_id, (
                    f"its output {target} belongs to {other!r} ({path or 'path unknown'}) since an earlier run; "
                    "it is not written over"
                )
        return None
