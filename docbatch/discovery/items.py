"""What discovery yields besides Documents and Skips, and how it recognises docbatch's own files."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from docbatch.checkpoint.sqlite import LEDGER_FILE
from docbatch.models import Document, ErrorKind, Skip

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


def is_docbatch_folder(folder: str) -> bool:
    """True for a state folder (it holds a ledger) or an output folder (it holds the marker) of any run."""
    return any(os.path.isfile(os.path.join(folder, marker)) for marker in OWN_FOLDER_MARKERS)
