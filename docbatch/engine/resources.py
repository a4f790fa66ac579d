"""Memory governance with psutil: measure the worker tree, throttle admission, kill what must go.

Every ``interval_s`` the governor sums the RSS of each running job's process tree. Above the high
watermark of --memory-limit (or below the free-memory floor) it closes the admission gate; below the
low watermark (and above the floor) it opens it again. Over the limit itself it kills the youngest
job, which is requeued (counted as an attempt). A job over --memory-per-job is killed as ``memory``.

Admission estimates from what was measured, never from the limit itself: a limit with room for every
worker costs nothing, a tight one lets fewer jobs run at once (see ``admission_fits``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import psutil

from docbatch.executors.base import JobControl
from docbatch.models import ErrorKind, JobState
from docbatch.report.progress import MemoryStats

HIGH_WATERMARK = 0.90
LOW_WATERMARK = 0.75


def admission_fits(running_bytes: list[int], waiting: int, workers: int, prior_bytes: int, budget_bytes: float) -> bool:
    """Whether one more batch may be handed over without the workers passing ``budget_bytes``.

    ``running_bytes``: each running job's estimate (its own peak so far, at least ``prior_bytes``);
    ``waiting``: batches handed over that no worker has started; ``workers``: worker processes;
    ``prior_bytes``: what a job not yet measured is expected to need. A worker runs one job at a
    time, so only the batches that will find a free worker add a job's worth; the others replace a
    job that is counted already. With nothing in flight a job is always admitted (the run never
    stalls; a job larger than the budget then runs alone).
    """
    if not running_bytes and waiting == 0:
        return True
    free_workers = max(0, workers - len(running_bytes))
    starting = min(waiting + 1, free_workers)
    return sum(running_bytes) + starting * prior_bytes <= budget_bytes


def tree_rss(pid: int) -> int:
    """RSS of a process and all its descendants (0 when it is gone)."""
    try:
        process = psutil.Process(pid)
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for member in members:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


class MemoryGovernor:
    def __init__(
        self,
        jobs: JobControl,
        *,
        limit_bytes: int | None,
        per_job_bytes: int | None,
        free_floor_bytes: int | None,
        concurrency: int = 1,
        interval_s: float = 0.2,
    ) -> None:
        self.jobs = jobs
        self.limit_bytes = limit_bytes
        self.per_job_bytes = per_job_bytes
        self.free_floor_bytes = free_floor_bytes
        self.interval_s = interval_s
        self.concurrency = concurrency
        self._peaks: dict[str, int] = {}  # each running job's largest tree RSS so far, by token
        # Before any job is measured a new one is expected to need what a fresh process holds: the
        # coordinator's own RSS stands in for a worker's (both import the same modules).
        self.base_bytes = _own_rss()
        self._waiting = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.stats = MemoryStats()
        self._throttled_since: float | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def throttled(self) -> bool:
        """New jobs wait for memory now: the gate is shut or a slot waits in ``admit``."""
        return not self.gate.is_set() or self._waiting > 0

    @property
    def throttled_s(self) -> float:
        """Seconds admission has waited for memory so far, the wait going on now included."""
        ongoing = time.monotonic() - self._throttled_since if self._throttled_since is not None else 0.0
        return self.stats.throttled_s + ongoing

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="memory-governor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.gate.set()

    async def _loop(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.interval_s)

    async def sample(self) -> None:
        """One measurement and the decisions that follow from it."""
        jobs = self.jobs.running_jobs()
        sizes = {job.token: tree_rss(job.pid) if job.pid is not None else 0 for job in jobs}
        total = sum(sizes.values())
        self._peaks = {token: max(size, self._peaks.get(token, 0)) for token, size in sizes.items()}
        free = psutil.virtual_memory().available
        stats = self.stats
        stats.peak_tree_bytes = max(stats.peak_tree_bytes, total)
        stats.free_low_bytes = free if stats.free_low_bytes is None else min(stats.free_low_bytes, free)
        for job in jobs:
            size = sizes.get(job.token, 0)
            stats.job_peaks[job.source_id] = max(stats.job_peaks.get(job.source_id, 0), size)
            stats.largest_job_bytes = max(stats.largest_job_bytes, size)
            if self.per_job_bytes is not None and size > self.per_job_bytes:
                # Trying again would exceed the same cap: the job is dead, not failed.
                message = f"used {size // 2**20} MiB, over --memory-per-job {self.per_job_bytes // 2**20} MiB"
                await self.jobs.kill(job, ErrorKind.MEMORY, message, JobState.DEAD)
        low_free = self.free_floor_bytes is not None and free < self.free_floor_bytes
        if self.limit_bytes is not None and total > self.limit_bytes and len(jobs) > 1:
            youngest = max(jobs, key=lambda job: job.started_at)
            stats.pressure_kills += 1
            await self.jobs.kill(
                youngest, ErrorKind.MEMORY, "killed to keep the workers under --memory-limit; requeued"
            )
        high = self.limit_bytes is not None and total > self.limit_bytes * HIGH_WATERMARK
        low = self.limit_bytes is None or total < self.limit_bytes * LOW_WATERMARK
        if high or low_free:
            self.gate.clear()
        elif low:
            self.gate.set()

    def expected_job_bytes(self) -> int:
        """Bytes a job about to start is expected to need: the largest job measured so far, and until one
        has been measured, a fresh worker's RSS."""
        return self.stats.largest_job_bytes or self.base_bytes

    async def admit(self) -> float:
        """Wait until one more batch fits (see ``_fits``); returns the seconds this call waited, which are
        no part of any job's time."""
        if self._fits():
            return 0.0
        began = time.monotonic()
        # Throttled time is wall time during which at least one slot waits here.
        if self._waiting == 0:
            self._throttled_since = time.monotonic()
            self.stats.throttle_events += 1
        self._waiting += 1
        try:
            while not self._fits():
                await asyncio.sleep(self.interval_s)
        finally:
            self._waiting -= 1
            if self._waiting == 0 and self._throttled_since is not None:
                self.stats.throttled_s += time.monotonic() - self._throttled_since
                self._throttled_since = None
        return time.monotonic() - began

    def _fits(self) -> bool:
        """The gate is open and, with --memory-limit, the jobs in flight plus one more batch stay under the
        high watermark. Each running job counts at its own peak so far but at least at the expected size
        (a job just started has not grown yet, and one that shrank may grow again)."""
        if not self.gate.is_set():
            return False
        if self.limit_bytes is None:
            return True
        expected = self.expected_job_bytes()
        running = [max(self._peaks.get(job.token, 0), expected) for job in self.jobs.running_jobs()]
        waiting = self.jobs.waiting_batches()
        return admission_fits(running, waiting, self.concurrency, expected, self.limit_bytes * HIGH_WATERMARK)


def _own_rss() -> int:
    with contextlib.suppress(psutil.Error):
        return int(psutil.Process().memory_info().rss)
    return 0
