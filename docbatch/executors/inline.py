"""Inline executor: runs jobs in a thread of the coordinator. For tests and debugging only:
a hung processor cannot be killed here, so the timeout only stops waiting for it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from docbatch.executors.job import run_jobs
from docbatch.models import ErrorKind, JobBatch, JobResult, JobSpec, JobState


class InlineExecutor:
    name = "inline"

    def __init__(self) -> None:
        self.stage_listener: Callable[[str, str], None] | None = None

    async def start(self) -> None:
        return None

    async def run_batch(
        self, specs: list[JobSpec], timeout_s: float, *, output: tuple[str, str] | None = None
    ) -> list[JobResult]:
        results = []
        for spec in specs:
            if self.stage_listener is not None:
                self.stage_listener(spec.source_id, "read")
            batch = JobBatch(
                specs=[spec], output_root=output[0] if output else None, output_format=output[1] if output else "json"
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
