"""Small process helpers shared by the executor (killing job groups) and `status` (is a run alive)."""

from __future__ import annotations

import contextlib
import os
import signal


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
