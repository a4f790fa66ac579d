"""The output and state folders, checked before the batch: a folder that cannot be written is the
machine's problem (exit 5); a file in the way of one is the user's to fix (exit 2)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from docbatch.config import RunConfig
from docbatch.errors import folder_error

# Enough bytes that a full disk refuses them, few enough to cost nothing.
_PROBE_BYTES = b"docbatch checks that it can write here\n"


def check_state_folder(config: RunConfig) -> None:
    """The state folder, before its lock is taken (the lock file lives there)."""
    check_folder("--state", config.state_dir)


def check_output_folder(config: RunConfig) -> None:
    """The output folder, before its lock is taken (the lock file lives there); the probe file is
    removed, so a run refused the lock leaves only that lock file."""
    check_folder("-o/--output", config.output.root)


def check_folder(flag: str, folder: Path) -> None:
    """Make ``folder`` and prove that a file can be written in it.

    Raises ConfigError (exit 2) when a file is in the way, EnvironmentFailed (exit 5) when it cannot
    be made or written (no permission, read-only file system, disk full), naming ``flag`` and the
    folder."""
    probe = folder / f".docbatch-probe-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(descriptor, _PROBE_BYTES)
            os.fsync(descriptor)  # a full disk may only say so when the data must go somewhere
        finally:
            os.close(descriptor)
    except OSError as error:
        raise folder_error(flag, folder, error) from error
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
