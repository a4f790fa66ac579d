"""Small process helpers shared by the executor (killing job groups) and `status` (is a run alive)."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
from collections.abc import Callable


def pid_alive(pid: int) -> bool:
    """True while the process exists and has not exited; a zombie (exited, not yet reaped) is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().split(b") ", 1)[1][:1] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc to ask: trust kill(0)


def signal_group(pid: int, signum: signal.Signals) -> None:
    """Signal the process group led by ``pid`` (a job's worker and everything it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


@functools.cache
def _glibc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None elsewhere (musl, macOS, Windows)."""
    try:
        libc = ctypes.CDLL(None)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def trim_memory() -> bool:
    """Give the C heap's free pages back to the system (glibc's malloc_trim: every arena, including
    the free pages in the middle of a heap). A long-lived process whose threads each have an arena
    otherwise keeps what it once freed: big blocks moved about (a dict resized, SQLite pages) leave
    their old places resident. Returns False where there is no such call."""
    trim = _glibc_trim()
    if trim is None:
        return False
    trim(0)
    return True
