"""Ending a run early but cleanly: signals, --max-runtime, --max-failures and a failing environment
(a full disk, a ledger that cannot be written).

The first request stops admitting documents and lets running jobs finish within a grace period;
when the grace runs out, or at a second SIGINT/SIGTERM, running jobs are cancelled. Signal handlers
only record the request: the runner acts on it at its next step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

_log = logging.getLogger("docbatch")
_AGAIN = {signal.SIGINT: "Ctrl-C again", signal.SIGTERM: "SIGTERM again"}
_AGAIN_ANY = "Ctrl-C or SIGTERM"


@dataclass(frozen=True)
class FailureBudget:
    """--max-failures: an absolute count, or a share of finished documents (after a minimum sample)."""

    count: int | None = None
    share: float | None = None
    min_sample: int = 20

    @classmethod
    def parse(cls, text: str) -> FailureBudget:
        from docbatch.errors import ConfigError

        text = text.strip()
        try:
            if text.endswith("%"):
                share = float(text[:-1]) / 100
                if not 0 < share <= 1:
                    raise ValueError
                return cls(share=share)
            count = int(text)
            if count < 1:
                raise ValueError
            return cls(count=count)
        except ValueError:
            raise ConfigError(f"invalid --max-failures {text!r}: use a count (50) or a share (5%)") from None

    def room(self, failures: int) -> int | None:
        """How many more failures a count budget allows (None: no count). Batches are kept this small,
        so that a run stops close to the budget even when its documents fail fast."""
        return None if self.count is None else max(1, self.count - failures)

    def exceeded(self, failures: int, finished: int) -> bool:
        """Whether ``failures`` (documents that failed or died in this run) is over the budget; a share
        is taken of ``finished`` (documents this run processed to a final state)."""
        if self.count is not None:
            return failures >= self.count
        if self.share is not None:
            return finished >= self.min_sample and failures / finished > self.share
        return False


class StopController:
    """Tracks why and how hard the run must stop; installed for the duration of one run."""

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
        self._grace_task: asyncio.Task[None] | None = None
        self._installed: list[signal.Signals] = []

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._on_signal, signum)
                self._installed.append(signum)

    def remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            loop.remove_signal_handler(signum)
        self._installed.clear()
        if self._grace_task is not None:
            self._grace_task.cancel()

    def _on_signal(self, signum: signal.Signals) -> None:
        if self.reason is None:
            self.request(f"{signum.name} received", again=_AGAIN.get(signum, _AGAIN_ANY))
            return
        _log.warning("%s received again: cancelling the running jobs", signum.name)
        self.hard = True
        self.cancel_now.set()

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
