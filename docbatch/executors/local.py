"""Local executor: a pebble process pool whose workers are killed on timeout and replaced.

Chosen over concurrent.futures.ProcessPoolExecutor and loky because those mark the whole pool broken
when one worker is killed; pebble terminates the timed-out worker (TERM, then KILL after a grace),
starts a fresh one and stays usable. Workers are spawned (not forked) so they hold no copy of the
coordinator's threads and locks, and they carry a parent-death signal (see worker.init_worker).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from concurrent.futures import CancelledError as FutureCancelled

from pebble import ProcessExpired, ProcessPool

from docbatch.executors.worker import init_worker, run_job
from docbatch.models import ErrorKind, JobResult, JobSpec, JobState


def crash_message(exitcode: int | None) -> str:
    """Explain a worker's exit code; negative codes are signals."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"worker process died with {name}"
    return f"worker process exited unexpectedly (exit code {exitcode})"


class LocalExecutor:
    """Runs jobs in supervised worker processes on this machine."""

    name = "local"

    def __init__(self, workers: int, max_jobs_per_worker: int = 0) -> None:
        self.workers = workers
        self.max_jobs_per_worker = max_jobs_per_worker
        self._pool: ProcessPool | None = None

    async def start(self) -> None:
        self._pool = ProcessPool(
            max_workers=self.workers,
            max_tasks=self.max_jobs_per_worker,
            initializer=init_worker,
            context=multiprocessing.get_context("spawn"),
        )

    async def run(self, spec: JobSpec, timeout_s: float) -> JobResult:
        if self._pool is None:
            raise RuntimeError("LocalExecutor.run called before start()")
        future = self._pool.schedule(run_job, args=(spec,), timeout=timeout_s)
        try:
            result: JobResult = await asyncio.wrap_future(future)
            return result
        except TimeoutError:
            return _failure(spec, ErrorKind.TIMEOUT, f"no result within {timeout_s:g}s; worker killed")
        except ProcessExpired as error:
            return _failure(spec, ErrorKind.CRASH, crash_message(error.exitcode))
        except FutureCancelled:
            return _failure(spec, ErrorKind.INTERNAL, "job cancelled by the pool", state=JobState.CANCELLED)
        except asyncio.CancelledError:
            future.cancel()  # pebble stops the worker running a cancelled job
            raise
        except Exception as error:  # e.g. a result that cannot be pickled back
            return _failure(spec, ErrorKind.INTERNAL, f"{type(error).__name__}: {error}")

    async def close(self, *, cancel: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel:
            pool.stop()
        else:
            pool.close()
        await asyncio.to_thread(pool.join)


def _failure(spec: JobSpec, kind: ErrorKind, message: str, state: JobState = JobState.FAILED) -> JobResult:
    return JobResult(source_id=spec.source_id, state=state, error_kind=kind, message=message)
