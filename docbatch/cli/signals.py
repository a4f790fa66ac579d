"""Process signals belong to the CLI edge: the first SIGINT or SIGTERM stops the run (drain, exit 4),
a second cancels its running jobs (exit 130). The handlers only ask the run's handle; the engine
acts at its next step."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docbatch.app.runs import RunHandle, RunOutcome

_log = logging.getLogger("docbatch")
# What the user does next to cancel at once, said in the stop message.
_AGAIN = {signal.SIGINT: "Ctrl-C again", signal.SIGTERM: "SIGTERM again"}


async def wait_with_signals(handle: RunHandle) -> RunOutcome:
    """The run's outcome, with SIGINT and SIGTERM mapped to stop, then cancel.

    The handlers go in once the run is recorded in the ledger: before that (waiting for a lock,
    reading a manifest) there is nothing to drain, and Ctrl-C interrupts as in any command (exit 130).
    """
    installed: list[signal.Signals] = []
    if await handle.wait_begun():
        installed = _install(handle)
    try:
        return await handle.wait()
    finally:
        _remove(installed)


def _install(handle: RunHandle) -> list[signal.Signals]:
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not on the main thread, or not on this platform: the default behaviour stays.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, _on_signal, handle, signum)
            installed.append(signum)
    return installed


def _remove(installed: list[signal.Signals]) -> None:
    loop = asyncio.get_running_loop()
    for signum in installed:
        loop.remove_signal_handler(signum)


def _on_signal(handle: RunHandle, signum: signal.Signals) -> None:
    if not handle.stopping:
        handle.stop(f"{signum.name} received", again=_AGAIN[signum])
        return
    _log.warning("%s received again: cancelling the running jobs", signum.name)
    handle.cancel()
