"""Local executor: a pebble process pool whose workers are killed on deadline and replaced.

Chosen over concurrent.futures.ProcessPoolExecutor and loky because those mark the whole pool broken
when one worker is killed; pebble notices a dead worker, fails only its task and starts a fresh one.
Workers are spawned (not forked) so they hold no copy of the coordinator's threads and locks; each
is the leader of its own process group and carries a parent-death signal (worker.init_worker).

The deadline is enforced here, not by pebble: each job announces its worker's pid when it starts,
and when the job's time is up the whole process group gets SIGTERM, then SIGKILL after a grace, so
a processor's own child processes die with it. pebble's timeout stays as a backstop. The same pid
map lets the memory governor measure and kill one job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import threading
import time
import uuid
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from pebble import ProcessExpired, ProcessPool

from docbatch.executors.worker import init_worker, run_job
from docbatch.models import ErrorKind, JobResult, JobSpec, JobState
from docbatch.processes import pid_alive, signal_group

KILL_GRACE_S = 2.0
START_TIMEOUT_S = 120.0  # a worker that cannot even start within this is reported, not waited for
_BACKSTOP_S = 10.0
_STOP = ("", 0)
_log = logging.getLogger("docbatch")


def crash_message(exitcode: int | None) -> str:
    """Explain a worker's exit code; negative codes are signals."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"worker process died with {name}"
    return f"worker process exited unexpectedly (exit code {exitcode})"


@dataclass
class RunningJob:
    """A job the executor has handed to a worker."""

    token: str
    source_id: str
    started: asyncio.Event = field(default_factory=asyncio.Event)
    pid: int | None = None
    started_at: float = 0.0
    kill_reason: tuple[ErrorKind, str, JobState] | None = None


class LocalExecutor:
    """Runs jobs in supervised worker processes on this machine."""

    name = "local"

    def __init__(self, workers: int, max_jobs_per_worker: int = 0, kill_grace_s: float = KILL_GRACE_S) -> None:
        self.workers = workers
        self.max_jobs_per_worker = max_jobs_per_worker
        self.kill_grace_s = kill_grace_s
        self.jobs: dict[str, RunningJob] = {}
        self._pool: ProcessPool | None = None
        self._channel: Any = None
        self._listener: threading.Thread | None = None
        self._context: Any = None
        self._replace_lock = asyncio.Lock()

    async def start(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._channel = self._context.SimpleQueue()
        self._pool = self._new_pool()
        loop = asyncio.get_running_loop()
        self._listener = threading.Thread(target=self._listen, args=(loop,), name="job-starts", daemon=True)
        self._listener.start()

    def _new_pool(self) -> ProcessPool:
        return ProcessPool(
            max_workers=self.workers,
            max_tasks=self.max_jobs_per_worker,
            initializer=init_worker,
            initargs=(self._channel,),
            context=self._context,
        )

    async def _replace_pool(self, broken: ProcessPool) -> None:
        """pebble gives up on the whole pool when a worker dies while no task is acknowledged as running
        (an idle worker OOM-killed while jobs wait); start a fresh pool instead of failing every job."""
        async with self._replace_lock:
            if self._pool is not broken:
                return  # another job already replaced it
            _log.warning("the worker pool broke (a worker died outside a job); starting a new one")
            self._pool = self._new_pool()
            broken.stop()
            await asyncio.to_thread(broken.join)

    def _listen(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            token, pid = self._channel.get()
            if (token, pid) == _STOP:
                return
            with contextlib.suppress(RuntimeError):  # the loop closed under us: nothing left to tell
                loop.call_soon_threadsafe(self._on_started, token, pid)

    def _on_started(self, token: str, pid: int) -> None:
        job = self.jobs.get(token)
        if job is not None:
            job.pid, job.started_at = pid, time.monotonic()
            job.started.set()

    async def run(self, spec: JobSpec, timeout_s: float) -> JobResult:
        if self._pool is None:
            raise RuntimeError("LocalExecutor.run called before start()")
        job = RunningJob(token=uuid.uuid4().hex, source_id=spec.source_id)
        self.jobs[job.token] = job
        spec = spec.model_copy(update={"token": job.token})
        pool = self._pool
        backstop = timeout_s + self.kill_grace_s + _BACKSTOP_S
        try:
            future = pool.schedule(run_job, args=(spec,), timeout=backstop)
        except RuntimeError:  # the pool is in its error state
            await self._replace_pool(pool)
            pool = self._pool
            future = pool.schedule(run_job, args=(spec,), timeout=backstop)
        outcome = asyncio.wrap_future(future)
        try:
            started: asyncio.Future[Any] = asyncio.ensure_future(job.started.wait())
            either: set[asyncio.Future[Any]] = {outcome, started}
            await asyncio.wait(either, timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            if not outcome.done():
                if not job.started.is_set():
                    await self.kill(job, ErrorKind.CRASH, f"no worker started the job within {START_TIMEOUT_S:g}s")
                else:
                    await asyncio.wait({outcome}, timeout=timeout_s)
                    if not outcome.done():
                        await self.kill(job, ErrorKind.TIMEOUT, f"no result within {timeout_s:g}s; worker killed")
            return await self._result(spec, job, outcome, pool)
        except asyncio.CancelledError:
            if not outcome.done():
                await asyncio.shield(self.kill(job, ErrorKind.INTERNAL, "cancelled"))
            future.cancel()
            raise
        finally:
            self.jobs.pop(job.token, None)

    async def _result(
        self, spec: JobSpec, job: RunningJob, outcome: asyncio.Future[JobResult], pool: ProcessPool
    ) -> JobResult:
        try:
            result = await outcome
        except BrokenProcessPool:
            await self._replace_pool(pool)
            return _failure(spec, ErrorKind.CRASH, "the worker pool broke while the job waited; it was restarted")
        except ProcessExpired as error:
            if job.kill_reason is not None:
                kind, message, state = job.kill_reason
                return _failure(spec, kind, message, state=state)
            return _failure(spec, ErrorKind.CRASH, crash_message(error.exitcode))
        except TimeoutError:
            return _failure(spec, ErrorKind.TIMEOUT, "no result; the worker was killed by the pool's backstop")
        except FutureCancelled:
            return _failure(spec, ErrorKind.INTERNAL, "job cancelled by the pool", state=JobState.CANCELLED)
        except Exception as error:  # e.g. a result that cannot be pickled back
            return _failure(spec, ErrorKind.INTERNAL, f"{type(error).__name__}: {error}")
        return result  # a job that finished just as it was being killed keeps its result

    async def kill(self, job: RunningJob, kind: ErrorKind, message: str, state: JobState = JobState.FAILED) -> None:
        """Stop one job's whole process group: TERM, a grace period, then KILL; pebble replaces the worker.
        The job ends with ``kind``, ``message`` and ``state`` (FAILED may be retried, DEAD will not)."""
        if job.kill_reason is None:
            job.kill_reason = (kind, message, state)
        if job.pid is None:
            return
        signal_group(job.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.kill_grace_s
        while time.monotonic() < deadline and pid_alive(job.pid):
            await asyncio.sleep(0.02)
        signal_group(job.pid, signal.SIGKILL)

    async def close(self, *, cancel: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel:
            pool.stop()
        else:
            pool.close()
        await asyncio.to_thread(pool.join)
        self._channel.put(_STOP)


def _failure(spec: JobSpec, kind: ErrorKind, message: str, state: JobState = JobState.FAILED) -> JobResult:
    return JobResult(source_id=spec.source_id, state=state, error_kind=kind, message=message)
