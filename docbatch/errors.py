"""One exception tree for docbatch and the exit codes the CLI turns it into.

Everything docbatch raises on purpose derives from :class:`DocbatchError`. The CLI edge catches it,
prints one line and exits with its :class:`ExitCode`; anything else is a bug and shows a traceback.
Per-document problems derive from :class:`DocumentError` and carry an :class:`~docbatch.models.ErrorKind`;
they never stop a run, they become a failed job.
"""

from __future__ import annotations

import enum
import errno
from pathlib import Path

from docbatch.models import ErrorKind


class ExitCode(enum.IntEnum):
    """Process exit codes; pinned by tests because cron jobs and scripts branch on them."""

    OK = 0  # every document succeeded or was skipped
    DOCUMENTS_FAILED = 1  # the run finished, some documents failed
    USAGE = 2  # bad flags, missing paths, invalid configuration
    LOCKED = 3  # another run holds the state folder's lock
    INTERRUPTED = 4  # stopped early (signal, budget) and resumable
    ENVIRONMENT = 5  # the machine failed the run: a folder not writable, disk full, ledger unusable
    KNOWN_FAILURES_ONLY = 6  # finished; nothing failed in this run, documents dead from earlier runs remain
    CANCELLED = 130  # a second Ctrl-C


class DocbatchError(Exception):
    """Root of every error docbatch raises on purpose."""

    exit_code: ExitCode = ExitCode.USAGE


class ConfigError(DocbatchError):
    """Raised before the batch starts when flags, paths or settings cannot work."""

    exit_code = ExitCode.USAGE


class LedgerError(DocbatchError):
    """Raised when what was asked of the ledger is not there: no ledger in the state folder, no such run."""

    exit_code = ExitCode.USAGE


class EnvironmentFailed(DocbatchError):
    """The environment, not a document or a flag, failed the run: an output or state folder that is
    not writable, a disk that filled up, an unusable ledger. Raised before the batch or mid-run; once
    the run has started the report is still written where possible and the ledger stays resumable."""

    exit_code = ExitCode.ENVIRONMENT


class LedgerUnusable(EnvironmentFailed):
    """Raised when the ledger exists but cannot be opened or written: not a SQLite file, a schema this
    docbatch does not read, a read-only file, an I/O error or a full disk. The message names its path."""


class ExecutorLost(DocbatchError):
    """The executor cannot run anything any more (a Dask scheduler went away): the run stops as
    interrupted, and resumes once the executor is back."""

    exit_code = ExitCode.INTERRUPTED


class BrokerUnavailable(DocbatchError):
    """A message broker cannot be reached, or refused us (wrong password, no such queue): one line
    naming the broker (its URL without the password) and the reason. `docbatch worker` exits 2 with it
    at start; a run whose broker goes away mid-run stops as interrupted (ExecutorLost)."""

    exit_code = ExitCode.USAGE


class DocumentError(DocbatchError):
    """Raised by a processor when one document cannot be extracted; fails that document only."""

    kind: ErrorKind = ErrorKind.CORRUPT

    def __init__(self, message: str, *, kind: ErrorKind | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind


class CorruptDocument(DocumentError):
    """Raised when a document's bytes do not parse as the format it claims to be."""

    kind = ErrorKind.CORRUPT


class EncryptedDocument(DocumentError):
    """Raised when a document needs a password to be read."""

    kind = ErrorKind.ENCRYPTED


class UnsupportedDocument(DocumentError):
    """Raised when no processor handles the document's type; the document is skipped, not failed."""

    kind = ErrorKind.UNSUPPORTED


class EmptyDocument(DocumentError):
    """Raised when a document holds nothing to extract (for example an e-mail with no headers or body)."""

    kind = ErrorKind.EMPTY


class DocumentTooLarge(DocumentError):
    """Raised when a document is larger than the configured maximum file size."""

    kind = ErrorKind.TOO_LARGE


def usable_folder_problem(error: OSError) -> str:
    """Why a folder docbatch must create or write cannot be used, in words (for a one-line error)."""
    if isinstance(error, FileExistsError | NotADirectoryError):
        return "a file is in the way (a folder is needed there)"
    if isinstance(error, IsADirectoryError):
        return "a folder is in the way (a file is needed there)"
    if isinstance(error, PermissionError):
        return "no permission to create or write it"
    return error.strerror or str(error)


# errno values that say the machine, not the document, failed a write, and how a person says it.
_ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EIO: "I/O error",
}


def environment_cause(error: OSError) -> str | None:
    """``"disk full"``, ``"disk quota exceeded"``, ``"read-only file system"`` or ``"I/O error"`` when a
    failed write is the environment's fault (any document would fail the same way), else None."""
    return _ENVIRONMENT_ERRNOS.get(error.errno or 0)


def _system_words(cause: str, error: OSError) -> str:
    """`` (the system's own words)`` to follow ``cause`` when they say more than it, else ``""``."""
    detail = error.strerror or ""
    return f" ({detail})" if detail and detail.lower() != cause.lower() else ""


def environment_problem(error: OSError, writing: object) -> str | None:
    """``"disk full writing out (No space left on device)"`` when a failed write of ``writing`` (a path)
    is the environment's fault, else None; the system's words are added when they say more."""
    cause = environment_cause(error)
    if cause is None:
        return None
    return f"{cause} writing {writing}{_system_words(cause, error)}"


def folder_error(flag: str, folder: Path, error: OSError) -> DocbatchError:
    """The error for a folder docbatch must create or write (``flag`` as the user typed it): a file in
    the way is the user's to fix (ConfigError, exit 2); a folder that cannot be written is the
    machine's (EnvironmentFailed, exit 5)."""
    problem = usable_folder_problem(error)
    if isinstance(error, FileExistsError | NotADirectoryError | IsADirectoryError):
        return ConfigError(f"{flag} {folder}: {problem}")
    cause = environment_cause(error)
    if cause is not None:
        problem = cause + _system_words(cause, error)
    return EnvironmentFailed(f"{flag} {folder}: {problem}")
