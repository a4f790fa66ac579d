"""Where a worker's standard error goes: a file per worker, read back when the worker dies.

Native parsers write to file descriptor 2 when they fail (Rust prints ``memory allocation of N bytes
failed`` and, with ``RUST_BACKTRACE`` set, dozens of backtrace lines; CPython prints ``Fatal Python
error``). Left on the terminal, that noise breaks `-q` and the live view; thrown away, it loses the one
line that explains a crash. So each worker's fd 2 goes to its own file in a folder the executor owns,
and a crash message quotes the last line that is not part of a backtrace.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile

_TAIL_BYTES = 16 * 1024
# Lines that belong to a backtrace or a thread dump rather than saying what went wrong.
_NOISE = re.compile(
    r"^(\s|\d+:|stack backtrace:|note: |Current thread|Thread 0x|Extension modules:|Fatal Python error: Aborted)"
)


def new_capture_folder() -> str:
    """A private folder for the workers' stderr files (removed by :func:`remove_capture_folder`)."""
    return tempfile.mkdtemp(prefix="docbatch-workers-")


def remove_capture_folder(folder: str | None) -> None:
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def capture_stderr(folder: str | None) -> None:
    """In a worker: send file descriptor 2 (and so Python's and native libraries' stderr) to
    ``folder/<pid>.stderr``. A folder that cannot be written leaves stderr as it is."""
    if not folder:
        return
    try:
        descriptor = os.open(_path(folder, os.getpid()), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return
    sys.stderr.flush()
    os.dup2(descriptor, 2)
    os.close(descriptor)


def last_words(folder: str | None, pid: int | None) -> str | None:
    """The last meaningful line worker ``pid`` wrote to stderr (at most 300 characters), or None."""
    if not folder or pid is None:
        return None
    try:
        with open(_path(folder, pid), "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - _TAIL_BYTES))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    meaningful = [line.strip() for line in tail.splitlines() if line.strip() and not _NOISE.match(line)]
    return meaningful[-1][:300] if meaningful else None


def _path(folder: str, pid: int) -> str:
    return os.path.join(folder, f"{pid}.stderr")
