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
from docbatch.errors import ConfigError, DocbatchError, ExitCode, folder_error

LOCK_FILE = "lock"
_log = logging.getLogger("docbatch")


class StateLocked(DocbatchError):
    """Raised when another run holds the state or output folder's lock."""

    exit_code = ExitCode.LOCKED


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
            raise folder_error(self._flag, self.path.parent, error) from error
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read(descriptor)
                    os.close(descriptor)
                    raise StateLocked(self._held_by(holder) + " (use --wait-lock to wait)") from None
                time.sleep(0.2)
        self._descriptor = descriptor
        previous = _read(descriptor)
        if previous.get("pid"):
            _log.warning(
                "took over a stale lock of %s: pid %s (started %s) is gone",
                self.path.parent, previous.get("pid"), previous.get("started", "?"),
            )  # fmt: skip
        return previous

    def _held_by(self, holder: dict[str, str]) -> str:
        return (
            f"another run holds {self.path.parent}: pid {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')}, started {holder.get('started', '?')}"
        )

    def _write(self, fields: dict[str, str]) -> None:
        """Say who holds the lock. Raises ConfigError/EnvironmentFailed (a full disk) after letting go."""
        assert self._descriptor is not None
        text = "".join(f"{key}={value}\n" for key, value in fields.items())
        data = text.encode()
        try:  # overwrite in place, then cut: a full disk cannot leave the file emptied of its owner
            os.pwrite(self._descriptor, data, 0)
            os.ftruncate(self._descriptor, len(data))
        except OSError as error:
            self._let_go(None)
            raise folder_error(self._flag, self.path.parent, error) from error

    @staticmethod
    def _holder() -> dict[str, str]:
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        return {"pid": str(os.getpid()), "host": socket.gethostname(), "started": started}

    def _let_go(self, keep: dict[str, str] | None) -> None:
        """Leave only ``keep`` in the file (so the next run sees no stale holder; None: leave it as it
        is) and unlock."""
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is None:
            return
        with contextlib.suppress(OSError):
            if keep is not None:
                data = "".join(f"{k}={v}\n" for k, v in keep.items()).encode()
                os.pwrite(descriptor, data, 0)
                os.ftruncate(descriptor, len(data))
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

    def check_free(self) -> None:
        """Raise StateLocked naming the holder when a run holds the state folder now. Takes nothing
        and writes nothing (no lock file yet: no run ever held it). For commands that decide from the
        ledger what a run will do (`retry-failed`): a live run's ledger is not final."""
        try:
            descriptor = os.open(self.path, os.O_RDONLY)
        except OSError:
            return
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateLocked(self._held_by(_read(descriptor)) + "; try again when it has finished") from None
        finally:
            os.close(descriptor)  # closing also lets go of the lock when it was taken


class OutputLock(_FileLock):
    """The output folder's lock and owner: one run at a time, and only runs of the owning ledger."""

    def __init__(self, output_dir: Path, state_dir: Path) -> None:
        super().__init__(output_dir / OUTPUT_MARKER, "-o/--output")
        self._ledger = os.path.realpath(state_dir)
        # The ledger the folder belongs to: the earlier owner until claim() (this run's ledger opened),
        # so a run whose ledger turned out unusable does not take the folder over.
        self._owner: str | None = None
        self._gone_owner: str | None = None  # an earlier owner whose ledger no longer exists

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
            self._gone_owner, owner = owner, None  # handed over at claim()
        self._owner = owner
        self._write({"ledger": owner, **self._holder()} if owner else self._holder())

    def claim(self) -> None:
        """Record this run's ledger as the folder's owner (call once the ledger is open)."""
        if self._gone_owner is not None:
            _log.warning(
                "%s belonged to the ledger in %s, which is gone; it now belongs to %s",
                self.path.parent, self._gone_owner, self._ledger,
            )  # fmt: skip
        self._owner = self._ledger
        self._write({"ledger": self._ledger, **self._holder()})

    def release(self) -> None:
        self._let_go({"ledger": self._owner} if self._owner else {})


def _read(descriptor: int) -> dict[str, str]:
    try:
        text = os.pread(descriptor, 4096, 0).decode("utf-8", errors="replace")
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
