"""Where a worker's standard error goes: a file per worker, emptied after each job into that job's result.

Native parsers write to file descriptor 2 when they fail (Rust prints ``memory allocation of N bytes
failed`` and, with ``RUST_BACKTRACE`` set, dozens of backtrace lines; CPython prints ``Fatal Python
error``). Left on the terminal, that noise breaks `-q` and the live view; thrown away, it loses the one
line that explains a crash. So each worker's fds 2 and 1 go to its own file in a folder the supervisor owns, from the
worker's first instruction on (an import error at start-up lands there too).
After each job the worker keeps the tail of what that job wrote (its last meaningful lines, at most
JOB_TAIL_CHARS) in the job's result and empties the file, so the file only ever holds the current
job's output: when a worker dies, what is left there belongs to the job it was running, and a crash
message quotes its last line that is not part of a backtrace.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time

from docbatch.processes import pid_alive

JOB_TAIL_CHARS = 2048  # what a job's result keeps of its stderr: enough for a panic message and its cause
_JOB_TAIL_LINES = 12
_TAIL_BYTES = 64 * 1024  # read from the end of a file: a full Rust backtrace fits
# Lines that belong to a backtrace or a thread dump rather than saying what went wrong.
_NOISE = re.compile(
    r"^(\s|\d+:|stack backtrace:|note: |Current thread|Thread 0x|Extension modules:|Fatal Python error: Aborted)"
)
# Terminal escape sequences and other control characters a library may colour its messages with.
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f]")
_capture_path: str | None = None  # this worker's stderr file, once capture_stderr has redirected fd 2


_PREFIX = "docbatch-workers-"
LEFT_BEHIND_AFTER_S = 600.0  # a folder whose owner is gone and that nothing touched for this long


def new_capture_folder() -> str:
    """A private folder for the workers' stderr files (removed by :func:`remove_capture_folder`),
    named ``docbatch-workers-<owner pid>-<random>`` in the temporary folder. Folders that owners
    killed with SIGKILL could not remove are cleared here: their owner is gone and nothing has
    touched them for LEFT_BEHIND_AFTER_S seconds (``tempfile.gettempdir()``; best effort)."""
    _clear_left_behind(tempfile.gettempdir())
    return tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-")


def _clear_left_behind(parent: str) -> None:
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        owner = entry.name.removeprefix(_PREFIX).partition("-")[0]
        if not entry.name.startswith(_PREFIX) or not owner.isdigit() or pid_alive(int(owner)):
            continue
        try:
            touched = max([entry.stat().st_mtime] + [item.stat().st_mtime for item in os.scandir(entry.path)])
        except OSError:
            continue
        if now - touched > LEFT_BEHIND_AFTER_S:
            shutil.rmtree(entry.path, ignore_errors=True)


def remove_capture_folder(folder: str | None) -> None:
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def capture_path(folder: str, name: str) -> str:
    """The file in ``folder`` that one worker's fds 1 and 2 go to (the supervisor opens it for the child)."""
    return os.path.join(folder, f"{name}.stderr")


def use_capture_file(path: str) -> None:
    """In a worker whose fds 2 and 1 already go to ``path`` (Python's and native libraries' stderr, and
    whatever a processor prints to stdout): keep each job's tail with :func:`take_job_stderr`. A
    worker has nothing to say on stdout: left alone, a plugin's print() would land in the middle of
    `-q` silence or of a JSON log. Both share one open file, one offset, so lines stay in order."""
    global _capture_path
    _capture_path = path


def take_job_stderr() -> tuple[str | None, int]:
    """In a worker, after a job: (the tail of what the job wrote to stderr, how many bytes it wrote), or
    (None, 0) when it wrote nothing or stderr is not captured; the file is emptied for the next job."""
    if _capture_path is None:
        return None, 0
    sys.stdout.flush()  # a print() of the job may still sit in Python's buffer
    sys.stderr.flush()
    try:
        written = os.lseek(2, 0, os.SEEK_CUR)
        if written == 0:
            return None, 0  # the common case costs one system call
        tail = _job_tail(_read_end(_capture_path))
        os.ftruncate(2, 0)
        os.lseek(2, 0, os.SEEK_SET)  # shared with the processor's own children: they write from 0 too
    except OSError:
        return None, 0
    return tail, written


def stderr_left_by(path: str) -> tuple[str | None, int]:
    """In the supervisor, for a job whose worker died or was killed: what the job wrote to stderr (the
    worker's file at ``path``), as :func:`take_job_stderr` gives it (the worker empties its file after
    every job)."""
    try:
        size = os.stat(path).st_size
        return (_job_tail(_read_end(path)), size) if size else (None, 0)
    except OSError:
        return None, 0


def _read_end(path: str) -> str:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - _TAIL_BYTES))
        return handle.read().decode("utf-8", errors="replace")


def _job_tail(text: str) -> str | None:
    """The last meaningful lines (backtrace frames left out, unless there is nothing else), at most
    JOB_TAIL_CHARS characters, joined by newlines."""
    lines = [line.rstrip() for line in _CONTROL.sub("", text.replace("\r\n", "\n")).split("\n") if line.strip()]
    meaningful = [line for line in lines if not _NOISE.match(line)] or lines
    tail = "\n".join(meaningful[-_JOB_TAIL_LINES:])
    return tail[-JOB_TAIL_CHARS:] or None


def last_words(path: str) -> str | None:
    """The last meaningful line a worker wrote to its stderr file ``path`` (at most 300 characters), or None."""
    try:
        tail = _read_end(path)
    except OSError:
        return None
    meaningful = [line.strip() for line in tail.splitlines() if line.strip() and not _NOISE.match(line)]
    return meaningful[-1][:300] if meaningful else None
