"""The memory governor's admission rule, in numbers: what a batch may start with, under which limit."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

from docbatch.engine.resources import HIGH_WATERMARK, MemoryGovernor, admission_fits
from docbatch.models import ErrorKind, JobState

MiB = 2**20
GiB = 2**30


def test_a_limit_with_room_for_every_worker_admits_them_all() -> None:
    budget = 2 * GiB * HIGH_WATERMARK
    # Two workers, one busy with a 300 MiB job, a new one expected at the same size: 600 MiB fits 2 GiB.
    assert admission_fits([300 * MiB], waiting=0, workers=2, prior_bytes=300 * MiB, budget_bytes=budget)
    # Nothing measured yet: a fresh worker's size is the prior, and two of them fit easily.
    assert admission_fits([], waiting=1, workers=2, prior_bytes=60 * MiB, budget_bytes=budget)


def test_a_tight_limit_lets_fewer_jobs_run_at_once() -> None:
    budget = 300 * MiB * HIGH_WATERMARK  # 270 MiB
    assert not admission_fits([170 * MiB], waiting=0, workers=2, prior_bytes=170 * MiB, budget_bytes=budget)
    # A batch handed over but not started will take a free worker too: it counts.
    assert not admission_fits([], waiting=1, workers=2, prior_bytes=170 * MiB, budget_bytes=budget)
    # Jobs already over the budget: nothing more starts, even when a worker is about to be free.
    assert not admission_fits([150 * MiB, 150 * MiB], waiting=0, workers=2, prior_bytes=100 * MiB, budget_bytes=budget)


def test_a_batch_that_will_wait_for_a_busy_worker_adds_no_job() -> None:
    # Both workers busy: the next batch can only start when a job ends, in that job's place.
    budget = 1 * GiB * HIGH_WATERMARK
    assert admission_fits([400 * MiB, 400 * MiB], waiting=1, workers=2, prior_bytes=400 * MiB, budget_bytes=budget)


def test_a_lone_job_is_admitted_however_large_so_the_run_never_stalls() -> None:
    assert admission_fits([], waiting=0, workers=2, prior_bytes=4 * GiB, budget_bytes=1 * GiB * HIGH_WATERMARK)


@dataclass
class _Job:
    token: str
    source_id: str
    pid: int
    started_at: float = 0.0


class _Workers:
    """The executor as the governor sees it: jobs running in real processes (this test's own)."""

    def __init__(self, running: list[_Job], waiting: int = 0) -> None:
        self.running, self.waiting = running, waiting
        self.killed: list[Any] = []

    def running_jobs(self) -> list[Any]:
        return list(self.running)

    def waiting_batches(self) -> int:
        return self.waiting

    async def kill(self, job: Any, kind: ErrorKind, message: str, state: JobState = JobState.FAILED) -> None:
        self.killed.append(job)


def test_the_governor_admits_a_second_job_under_a_roomy_limit_once_the_first_is_measured() -> None:
    async def scenario() -> tuple[bool, bool]:
        workers = _Workers([_Job("t1", "big.pdf", os.getpid())])  # this process: some tens of MiB
        governor = MemoryGovernor(
            workers, limit_bytes=2 * GiB, per_job_bytes=None, free_floor_bytes=None, concurrency=2
        )
        await governor.sample()
        # Counted at its measured size, not at limit / workers (1 GiB, which would leave no room for two).
        return governor.expected_job_bytes() < 512 * MiB, governor._fits()

    measured_small, fits = asyncio.run(scenario())
    assert measured_small and fits


def test_the_governor_throttles_when_the_measured_job_leaves_no_room_for_another() -> None:
    async def scenario() -> bool:
        workers = _Workers([_Job("t1", "big.pdf", os.getpid())])
        governor = MemoryGovernor(
            workers, limit_bytes=10 * MiB, per_job_bytes=None, free_floor_bytes=None, concurrency=2
        )
        await governor.sample()  # this process is far over 10 MiB: the gate shuts too
        return governor._fits()

    assert not asyncio.run(scenario())


def test_slots_waiting_for_memory_show_as_throttled_with_the_time_so_far() -> None:
    async def scenario() -> tuple[bool, float, float, int]:
        workers = _Workers([_Job("t1", "big.pdf", os.getpid())])
        governor = MemoryGovernor(
            workers, limit_bytes=int(1.2 * governor_prior()), per_job_bytes=None, free_floor_bytes=None,
            concurrency=2, interval_s=0.01,
        )  # fmt: skip
        await governor.sample()
        governor.gate.set()  # the gate is open: only the admission rule holds the slot back
        waiting = asyncio.create_task(governor.admit())
        await asyncio.sleep(0.1)
        throttled, so_far = governor.throttled, governor.throttled_s
        workers.running.clear()  # the job ended: the slot goes on
        waited = await asyncio.wait_for(waiting, 5)
        return throttled, so_far, waited, governor.stats.throttle_events

    throttled, so_far, waited, events = asyncio.run(scenario())
    assert throttled and so_far > 0 and waited >= so_far and events == 1


def governor_prior() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)
