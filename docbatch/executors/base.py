"""The executor contract: the only seam between one machine and many."""

from __future__ import annotations

from typing import Protocol

from docbatch.models import JobResult, JobSpec


class Executor(Protocol):
    """Runs one job somewhere supervised and returns its result; never raises for a bad document.

    ``run`` must turn a worker that hangs past ``timeout_s`` into a ``timeout`` result (and stop that
    worker), and a worker that dies into a ``crash`` result, so that the run goes on.
    """

    name: str

    async def start(self) -> None:
        """Called once before the first job: start workers, connect to a cluster."""

    async def run(self, spec: JobSpec, timeout_s: float) -> JobResult:
        """Process one document and return what happened."""
        ...

    async def close(self, *, cancel: bool = False) -> None:
        """Stop the workers; with ``cancel`` do not wait for jobs in flight."""
