"""The run's pulse, once a second: what `docbatch status` reads (counters, stages, active jobs, memory,
the executor's workers) is published in the ledger's runs row, and the timeline gets a point."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

import psutil

from docbatch.checkpoint.base import Ledger
from docbatch.engine.context import RunContext
from docbatch.errors import EnvironmentFailed
from docbatch.processes import trim_memory

HEARTBEAT_INTERVAL_S = 1.0
# Every this many heartbeats the coordinator gives its C heap's free pages back (processes.trim_memory):
# about 0.1 ms, and the difference between a flat RSS and one that creeps up by freed blocks kept.
TRIM_EVERY = 10


async def publish_heartbeats(run: RunContext, ledger: Ledger) -> None:
    """Publish the live counters for `docbatch status` about once a second."""
    for beat in itertools.count(1):
        await asyncio.sleep(HEARTBEAT_INTERVAL_S)
        if beat % TRIM_EVERY == 0:
            await asyncio.to_thread(trim_memory)
        run.progress.throttled = run.governor.throttled if run.governor is not None else False
        run.progress.throttled_s = run.governor.throttled_s if run.governor is not None else 0.0
        note_executor(run)
        run.progress.sample(await asyncio.to_thread(_workers_rss))
        snapshot = run.progress.snapshot().model_dump_json()
        try:
            await asyncio.to_thread(ledger.heartbeat, run.run_id, time.time(), snapshot)
        except EnvironmentFailed as error:  # the ledger refuses writes (disk full): the run must stop
            run.stopper.fail(str(error))


def note_executor(run: RunContext) -> None:
    """What a cluster executor says of itself (workers, dashboard), for `docbatch status`."""
    if run.executor_started:
        # Merged: a closed executor (the report's last look) may know less than it did while it ran.
        run.progress.executor_info = {**run.progress.executor_info, **run.executor.describe()}


def _workers_rss() -> int:
    """RSS of every process below the coordinator (its workers and what they started)."""
    total = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return total
