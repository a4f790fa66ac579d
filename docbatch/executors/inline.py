"""Inline executor: runs jobs in a thread of the coordinator. For tests and debugging only:
a hung processor cannot be killed here, so the timeout only stops waiting for it."""

from __future__ import annotations

import asyncio

from docbatch.executors.base import JobControl, OutputTarget, StageListener, not_started
from docbatch.executors.job import run_jobs
from docbatch.models import ErrorKind, JobBatch, JobResult, JobSpec, JobState


class InlineExecutor:
    """The whole executor contract without processes: ``slots`` batches at once, each in a thread;
    outputs written by the same code the workers use; no job control (nothing it could kill)."""

    name = "inline"
    batch_target_s = 0.05
    writes_outputs = True

    def __init__(self, slots: int = 2) -> None:
        self.slots = slots
        self.stage_listener: StageListener | None = None
        self._stopping = False

    @property
    def job_control(self) -> JobControl | None:
        return None

    async def start(self) -> None:
        return None

    def stop_admitting(self) -> None:
        self._stopping = True

    def describe(self) -> dict[str, object]:
        return {"executor": self.name}

    async def run_batch(
        self, specs: list[JobSpec], timeout_s: float, *, output: OutputTarget | None = None
    ) -> list[JobResult]:
        """Each job in a thread, one after the other; ``output`` None: the results carry extractions."""
        results = []
        for spec in specs:
            if self._stopping:
                results.append(not_started(spec.source_id))
                continue
            if self.stage_listener is not None:
                self.stage_listener(spec.source_id, "read")
            batch = JobBatch(
                specs=[spec],
                output_root=output.root if output else None,
                output_format=output.format if output else "json",
            )
            try:
                (result,) = await asyncio.wait_for(asyncio.to_thread(list, run_jobs(batch)), timeout_s)
            except TimeoutError:
                result = JobResult(
                    source_id=spec.source_id,
                    state=JobState.FAILED,
                    error_kind=ErrorKind.TIMEOUT,
                    message=f"no result within {timeout_s:g}s (inline: the thread was left running)",
                )
            results.append(result)
        return results

    async def close(self, *, cancel: bool = False) -> None:
        return None
