"""Ending a run early but cleanly: a stop or cancel request (from whoever holds the run's handle: the
CLI on a signal, later a server), --max-runtime, --max-failures and a failing environment (a full
disk, a ledger that cannot be written).

The first request stops admitting documents and lets running jobs finish within a grace period;
when the grace runs out, or at a cancel request, running jobs are cancelled. Requests only record
what is asked: the runner acts on it at its next step. The engine installs no signal handlers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from docbatch.config import FailureBudget as FailureBudget  # the engine's name for it, declared with the config

_log = logging.getLogger("docbatch")
# What a user does next to cancel at once, told in the stop message (the CLI names its signal).
_AGAIN_ANY = "Ctrl-C or SIGTERM"


class StopController:
    """Tracks why and how hard one run must stop; created by its caller (app/) and handed to the runner."""

    def __init__(self, grace_s: float, running_count: Callable[[], int] = lambda: 0) -> None:
        self.grace_s = grace_s
        # How many jobs a worker is on now: the stop message tells the user what the grace is for.
        self.running_count = running_count
        self.reason: str | None = None
        self.hard = False
        # Why the machine failed the run (disk full, ledger not writable); the first cause is kept.
        self.environment_failure: str | None = None
        self.draining = asyncio.Event()
        self.cancel_now = asyncio.Event()
        # Set by the runner once the run is in the ledger: from then on a stop drains it and a resume
        # picks up what is left; before, there is nothing to drain.
        self.begun = asyncio.Event()
        self._grace_task: asyncio.Task[None] | None = None

    def cancel(self, reason: str = "cancel requested") -> None:
        """Cancel the running jobs now, after a stop request or instead of one; they end `cancelled`
        (resumable). ``reason`` is the stop reason when no stop was requested before."""
        if self.reason is None:
            self.reason = reason
            self.draining.set()
        self.hard = True
        self.cancel_now.set()

    def close(self) -> None:
        """The run is over: the grace timer, if one runs, has nothing left to cancel."""
        if self._grace_task is not None:
            self._grace_task.cancel()

    def request(self, reason: str, *, again: str = _AGAIN_ANY) -> None:
        """Stop admitting documents; cancel running ones after the grace period. Says so, and how to cancel
        them at once (``again``: what the user would do next)."""
        if self.reason is not None:
            return
        self.reason = reason
        running = self.running_count()
        if running:
            _log.warning(
                "stopping (%s): no new documents; %d running get up to %gs (--grace) to finish; %s cancels them "
                "now; the rest stay pending", reason, running, self.grace_s, again,
            )  # fmt: skip
        else:
            _log.warning("stopping (%s): no new documents; the rest stay pending", reason)
        self.draining.set()
        self._grace_task = asyncio.get_running_loop().create_task(self._grace())

    def fail(self, cause: str) -> None:
        """The environment failed the run (``cause``: "disk full writing out/ (...)"): stop as at a stop
        request, and end with exit 5. Only the first cause is kept; later ones are its consequences."""
        if self.environment_failure is not None:
            return
        self.environment_failure = cause
        if self.reason is None:
            self.request(f"environment failure: {cause}")
        else:  # already stopping for another reason: this one decides the exit code and is said
            self.reason = f"environment failure: {cause} (while stopping: {self.reason})"

    async def _grace(self) -> None:
        await asyncio.sleep(self.grace_s)
        _log.warning("grace period over: cancelling the running jobs")
        self.cancel_now.set()


def schedule_deadline(controller: StopController, max_runtime_s: float | None) -> Callable[[], None]:
    """Request a stop after --max-runtime; returns a function that cancels the timer."""
    if max_runtime_s is None:
        return lambda: None
    handle = asyncio.get_running_loop().call_later(
        max_runtime_s, controller.request, f"--max-runtime of {max_runtime_s:g}s reached"
    )
    return handle.cancel
