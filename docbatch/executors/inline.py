"""Inline executor: runs jobs in a thread of the coordinator. For tests and debugging only:
a hung processor cannot be killed here, so the timeout only stops waiting for it."""

from __future__ import annotations

import asyncio

from docbatch.executors.worker import run_job
from docbatch.models import ErrorKind, JobResult, JobSpec, JobState


class InlineExecutor:
    name = "inline"

    async def start(self) -> None:
        return None

    async def run(self, spec: JobSpec, timeout_s: float) -> JobResult:
        try:
            return await asyncio.wait_for(asyncio.to_thread(run_job, spec), timeout_s)
        except TimeoutError:
            return JobResult(
                source_id=spec.source_id,
                state=JobState.FAILED,
                error_kind=ErrorKind.TIMEOUT,
                message=f"no result within {timeout_s:g}s (inline: the thread was left running)",
            )

    async def close(self, *, cancel: bool = False) -> None:
        return None
