"""One run per state folder: an exclusive flock on `<state>/lock`, holding the holder's pid and start.

The kernel releases a flock when its holder dies, however it dies, so a lock can never stay taken by
a dead run; what can stay is the file naming it, which is then reported as a stale lock taken over.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import logging
import os
import socket
import time
from pathlib import Path

from docbatch.errors import ConfigError, DocbatchError, ExitCode, usable_folder_problem

LOCK_FILE = "lock"
_log = logging.getLogger("docbatch")


class StateLocked(DocbatchError):
    """Raised when another run holds the state folder's lock."""

    exit_code = ExitCode.LOCKED


class StateLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._descriptor: int | None = None

    def acquire(self, wait_s: float = 0.0) -> None:
        """Take the lock, waiting up to ``wait_s``; raise StateLocked naming the holder otherwise."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise ConfigError(f"--state {self.path.parent}: {usable_folder_problem(error)}") from error
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read(descriptor)
                    os.close(descriptor)
                    raise StateLocked(
                        f"another run holds {self.path.parent}: pid {holder.get('pid', '?')} on "
                        f"{holder.get('host', '?')}, started {holder.get('started', '?')} (use --wait-lock to wait)"
                    ) from None
                time.sleep(0.2)
        previous = _read(descriptor)
        if previous.get("pid"):
            _log.warning(
                "took over a stale lock of %s: pid %s (started %s) is gone",
                self.path.parent, previous.get("pid"), previous.get("started", "?"),
            )  # fmt: skip
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid={os.getpid()}\nhost={socket.gethostname()}\nstarted={started}\n".encode(), 0)
        self._descriptor = descriptor

    def release(self) -> None:
        """Empty the file (so the next run sees no stale holder) and let go of the lock."""
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(descriptor, 0)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def _read(descriptor: int) -> dict[str, str]:
    try:
        text = os.pread(descriptor, 4096, 0).decode("utf-8", errors="replace")
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
