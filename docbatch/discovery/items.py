"""What discovery yields besides Documents and Skips, and how it recognises docbatch's own files."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from docbatch.checkpoint.sqlite import LEDGER_FILE
from docbatch.models import Document, ErrorKind, Skip
from docbatch.scratch import ScratchTable

# Files that mark a folder as docbatch's own: a state folder holds its ledger, an output folder its
# marker (see docbatch.checkpoint.lock). Such folders are never walked, whatever their name.
OUTPUT_MARKER = ".docbatch-output"
OWN_FOLDER_MARKERS = frozenset({LEDGER_FILE, OUTPUT_MARKER})


class DiscoveryFailure(BaseModel):
    """An input the user named (or a folder under one) that cannot be read: a failure of the run,
    recorded with its reason and shown by the exit code, never a silent skip."""

    model_config = ConfigDict(frozen=True)

    source_id: str
    path: Path
    error_kind: ErrorKind
    message: str


Discovered = Document | Skip | DiscoveryFailure

FileIdentity = tuple[int, int]  # (st_dev, st_ino): the same file however its path is spelled


def identity(info: os.stat_result) -> FileIdentity:
    return (info.st_dev, info.st_ino)


class SeenFiles:
    """The files a run has met (by identity), when a manifest could name one again: one entry per
    document, so kept in a ScratchTable (docbatch/scratch.py), on disk past a bounded cache, not in a
    set (about 100 bytes a file in Python)."""

    def __init__(self) -> None:
        self._table = ScratchTable()

    def add(self, file_identity: FileIdentity) -> None:
        self._table.add(_key(file_identity))

    def __contains__(self, file_identity: object) -> bool:
        return isinstance(file_identity, tuple) and _key(file_identity) in self._table

    def __len__(self) -> int:
        return len(self._table)

    def close(self) -> None:
        self._table.close()


def _key(file_identity: tuple[object, ...]) -> str:
    return ":".join(map(str, file_identity))


def is_docbatch_folder(folder: str) -> bool:
    """True for a state folder (it holds a ledger) or an output folder (it holds the marker) of any run."""
    return any(os.path.isfile(os.path.join(folder, marker)) for marker in OWN_FOLDER_MARKERS)
