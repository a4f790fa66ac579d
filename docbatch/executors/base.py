"""The executor contract: the only seam between one machine and many."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from docbatch.models import JobResult, JobSpec


class Executor(Protocol):
    """Runs jobs somewhere supervised and returns their results; never raises for a bad document.

    ``run_batch`` runs its jobs one after the other in one worker, each under its own ``timeout_s``: a
    job that hangs past it becomes a ``timeout`` result (and its worker is stopped), a worker that dies
    becomes a ``crash`` result, and the rest of the batch still gets results, so the run goes on. With
    ``output`` (root folder, format) the worker writes each output itself and the result carries its path.
    """

    name: str
    # Told (source_id, stage) as jobs move through their stages, when the executor can see that.
    stage_listener: Callable[[str, str], None] | None

    async def start(self) -> None:
        """Called once before the first job: start workers, connect to a cluster."""

    async def run_batch(
        self, specs: list[JobSpec], timeout_s: float, *, output: tuple[str, str] | None = None
    ) -> list[JobResult]:
        """Process the documents and return what happened to each, in order."""
        ...

    async def close(self, *, cancel: bool = False) -> None:
        """Stop the workers; with ``cancel`` do not wait for jobs in flight."""
