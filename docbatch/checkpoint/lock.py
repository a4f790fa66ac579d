"""One run at a time per state folder and per output folder, and one ledger per output folder.

Each lock is an exclusive flock on a file holding the holder's pid, host and start: `<state>/lock`, and
`<output>/.docbatch-output`, which also names the ledger (state folder, as a real path) that owns the
output folder. Two runs started from different working directories (so with different default
state folders) therefore still exclude each other on the outputs they share, and a later run with
another ledger is refused: that ledger would not know which outputs belong to which document.

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

from docbatch.checkpoint.sqlite import LEDGER_FILE
from docbatch.discovery.items import OUTPUT_MARKER
from docbatch.errors import ConfigError, DocbatchError, EnvironmentFailed, ExitCode, usable_folder_problem

LOCK_FILE = "lock"
_log = logging.getLogger("docbatch")


class StateLocked(DocbatchError):
    """Raised when another run holds the state or output folder's lock."""

    exit_code = ExitCode.LOCKED


def _folder_error(flag: str, folder: Path, error: OSError) -> DocbatchError:
    """A folder in the way of a file is the user's to fix (exit 2); the rest is the machine's (exit 5)."""
    problem = f"{flag} {folder}: {usable_folder_problem(error)}"
    if isinstance(error, FileExistsError | NotADirectoryError):
        return ConfigError(problem)
    return EnvironmentFailed(problem)


class _FileLock:
    """An exclusive flock on ``path``, whose content says who holds it (``key=value`` lines)."""

    def __init__(self, path: Path, flag: str) -> None:
        self.path = path
        self._flag = flag
        self._descriptor: int | None = None

    def _take(self, wait_s: float) -> dict[str, str]:
        """Take the lock, waiting up to ``wait_s``; returns what the file said before. Raises
        StateLocked naming the holder, or ConfigError/EnvironmentFailed when the file cannot be made."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise _folder_error(self._flag, self.path.parent, error) from error
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
        self._descriptor = descriptor
        previous = _read(descriptor)
        if previous.get("pid"):
            _log.warning(
                "took over a stale lock of %s: pid %s (started %s) is gone",
                self.path.parent, previous.get("pid"), previous.get("started", "?"),
            )  # fmt: skip
        return previous

    def _write(self, fields: dict[str, str]) -> None:
        assert self._descriptor is not None
        text = "".join(f"{key}={value}\n" for key, value in fields.items())
        os.ftruncate(self._descriptor, 0)
        os.pwrite(self._descriptor, text.encode(), 0)

    @staticmethod
    def _holder() -> dict[str, str]:
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        return {"pid": str(os.getpid()), "host": socket.gethostname(), "started": started}

    def _let_go(self, keep: dict[str, str]) -> None:
        """Leave only ``keep`` in the file (so the next run sees no stale holder) and unlock."""
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(descriptor, 0)
            if keep:
                os.pwrite(descriptor, "".join(f"{k}={v}\n" for k, v in keep.items()).encode(), 0)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


class StateLock(_FileLock):
    """The state folder's lock: one run per ledger."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir / LOCK_FILE, "--state")

    def acquire(self, wait_s: float = 0.0) -> None:
        """Take the lock, waiting up to ``wait_s``; raise StateLocked naming the holder otherwise."""
        self._take(wait_s)
        self._write(self._holder())

    def release(self) -> None:
        self._let_go({})


class OutputLock(_FileLock):
    """The output folder's lock and owner: one run at a time, and only runs of the owning ledger."""

    def __init__(self, output_dir: Path, state_dir: Path) -> None:
        super().__init__(output_dir / OUTPUT_MARKER, "-o/--output")
        self._ledger = os.path.realpath(state_dir)

    def acquire(self, wait_s: float = 0.0) -> None:
        """Take the lock and claim the folder for this run's ledger. Raises StateLocked while another
        run writes it, and ConfigError when it belongs to another ledger that still exists (a ledger
        that is gone hands the folder over, with a warning)."""
        owner = self._take(wait_s).get("ledger")
        if owner and owner != self._ledger:
            if os.path.exists(os.path.join(owner, LEDGER_FILE)):
                self._let_go({"ledger": owner})
                raise ConfigError(
                    f"-o/--output {self.path.parent}: its outputs belong to the ledger in {owner}, not to this "
                    f"run's {self._ledger}; run with --state {owner} (or choose another output folder)"
                )
            _log.warning(
                "%s belonged to the ledger in %s, which is gone; it now belongs to %s",
                self.path.parent, owner, self._ledger,
            )  # fmt: skip
        self._write({"ledger": self._ledger, **self._holder()})

    def release(self) -> None:
        self._let_go({"ledger": self._ledger})


def _read(descriptor: int) -> dict[str, str]:
    try:
        text = os.pread(descriptor, 4096, 0).decode("utf-8", errors="replace")
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
