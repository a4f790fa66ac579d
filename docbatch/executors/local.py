"""Local executor: a pebble process pool whose workers are killed on deadline and replaced.

Chosen over concurrent.futures.ProcessPoolExecutor and loky because those mark the whole pool broken
when one worker is killed; pebble notices a dead worker, fails only its task and starts a fresh one.
Workers are spawned (not forked) so they hold no copy of the coordinator's threads and locks, and see
the environment and import path of the moment the run starts (a fork server would pin those to the
first run of the process; measured, it saved nothing on 20,000 tiny documents). Each worker leads
its own process group and carries a parent-death signal (worker.init_worker).

Jobs travel in batches (one pool task for several short jobs) but keep their own deadlines: each job
announces (token, pid, stage) when it starts, a listener thread notes it without waking the event
loop, and a watchdog looks at the running jobs a few times a second. When a job's time is up its
worker's whole process group gets SIGTERM, then SIGKILL after a grace, so a processor's own child
processes die with it. The job that was running gets the failure; the rest of its batch is run
again one by one. pebble's timeout stays as a backstop. The same job table lets the memory governor
measure and kill one job.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import signal
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from pebble import ProcessExpired, ProcessPool

from docbatch.executors.base import JobControl, OutputTarget, RunningJob
from docbatch.executors.worker import WORKER_READY, init_worker, run_batch
from docbatch.executors.worker_stderr import last_words, new_capture_folder, remove_capture_folder, stderr_left_by
from docbatch.models import ErrorKind, JobBatch, JobResult, JobSpec, JobState
from docbatch.processes import pid_alive, signal_group

KILL_GRACE_S = 2.0
START_TIMEOUT_S = 120.0  # a batch that no worker even starts within this is reported, not waited for
WATCHDOG_INTERVAL_S = 0.05
_BACKSTOP_S = 10.0
_STOP = ("", 0, "")
# How long closing waits for workers still starting up (see LocalExecutor._wait_for_starting_workers).
STARTING_WORKERS_WAIT_S = 10.0
_log = logging.getLogger("docbatch")

StageListener = Callable[[str, str], None]


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
    # The executor contract (executors/base.py): a local hand-over costs little, so batches are short;
    # workers write their own outputs; the memory governor sees and kills the jobs' processes.
    batch_target_s = 0.05
    writes_outputs = True
    # Batches in flight per worker: one running and one waiting, so a worker never idles while the
    # coordinator takes in a result and hands out the next batch (20,000 tiny files: 3.3 s instead of
    # 4.4-5.3 s). When the run stops, the waiting ones come back pending (workers check before each job).
    BATCHES_PER_WORKER = 2

    @property
    def slots(self) -> int:
        return self.workers * self.BATCHES_PER_WORKER

    @property
    def job_control(self) -> JobControl:
        return self

    def describe(self) -> dict[str, object]:
        return {"executor": self.name}

    def __init__(self, workers: int, max_jobs_per_worker: int = 0, kill_grace_s: float = KILL_GRACE_S) -> None:
        self.workers = workers
        self.max_jobs_per_worker = max_jobs_per_worker
        self.kill_grace_s = kill_grace_s
        self.jobs: dict[str, RunningJob] = {}
        # Told (source_id, stage) from the listener thread; must only set plain attributes.
        self.stage_listener: StageListener | None = None
        self._pool: ProcessPool | None = None
        self._channel: Any = None
        self._stopping: Any = None
        self._listener: threading.Thread | None = None
        self._context: Any = None
        self._replace_lock = asyncio.Lock()
        self._batches: set[_PendingBatch] = set()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._watchdog_task: asyncio.Task[None] | None = None
        self._token_prefix = uuid.uuid4().hex[:8] + "-"
        self._ready_pids: set[int] = set()  # workers that finished starting (told by the listener)
        self._children_before: set[Any] = set()
        self._stderr_folder: str | None = None
        self._serial = itertools.count()

    async def start(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._children_before = set(multiprocessing.active_children())
        self._stderr_folder = new_capture_folder()
        self._channel = self._context.SimpleQueue()
        self._stopping = self._context.Event()
        self._pool = self._new_pool()
        self._listener = threading.Thread(target=self._listen, name="job-starts", daemon=True)
        self._listener.start()
        self._watchdog_task = asyncio.create_task(self._watchdog(), name="deadline-watchdog")

    def _new_pool(self) -> ProcessPool:
        return ProcessPool(
            max_workers=self.workers,
            max_tasks=self.max_jobs_per_worker,
            initializer=init_worker,
            initargs=(self._channel, self._stopping, self._stderr_folder),
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

    def _listen(self) -> None:
        """Note each job's start and stage as the workers announce them. Runs in a thread and only sets
        plain attributes, so thousands of jobs a second never wake the event loop."""
        current: dict[int, RunningJob] = {}
        while True:
            token, pid, stage = self._channel.get()
            if token == "":
                return
            if token == WORKER_READY:
                self._ready_pids.add(pid)
                continue
            job = self.jobs.get(token)
            if job is None:
                continue
            if stage in ("read", "running"):  # the job's start
                previous = current.get(pid)
                if previous is not None and previous is not job:
                    previous.done = True  # the worker moved on to the next job of its batch
                    if self.stage_listener is not None:
                        self.stage_listener(previous.source_id, "done")
                current[pid] = job
                job.started_at = time.monotonic()
                job.pid = pid
            job.stage = stage
            if self.stage_listener is not None:
                self.stage_listener(job.source_id, stage)

    async def _watchdog(self) -> None:
        """Kill jobs past their deadline (and batches no worker starts at all)."""
        while True:
            await asyncio.sleep(WATCHDOG_INTERVAL_S)
            now = time.monotonic()
            for job in list(self.jobs.values()):
                if job.running and job.kill_reason is None and now - job.started_at > job.timeout_s:
                    message = f"no result within {job.timeout_s:g}s; worker killed"
                    self._spawn(self.kill(job, ErrorKind.TIMEOUT, message))
            for batch in list(self._batches):
                if not batch.started() and now - batch.submitted_at > START_TIMEOUT_S:
                    self._batches.discard(batch)
                    batch.future.cancel()

    def stop_admitting(self) -> None:
        """The run is stopping: workers start no further job; those not started come back ``pending``."""
        if self._stopping is not None:
            self._stopping.set()

    def running_jobs(self) -> list[RunningJob]:
        """The jobs a worker is running now (one per busy worker)."""
        return [job for job in list(self.jobs.values()) if job.running]

    def waiting_batches(self) -> int:
        """Batches handed over that no worker has started yet."""
        return sum(1 for batch in list(self._batches) if not batch.started())

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self, spec: JobSpec, timeout_s: float) -> JobResult:
        (result,) = await self.run_batch([spec], timeout_s)
        return result

    async def run_batch(
        self, specs: list[JobSpec], timeout_s: float, *, output: OutputTarget | None = None
    ) -> list[JobResult]:
        """Run ``specs`` in one worker, one after the other, each under ``timeout_s``; one result per spec.
        With ``output`` the worker writes each output itself."""
        if self._pool is None:
            raise RuntimeError("LocalExecutor.run_batch called before start()")
        jobs = [RunningJob(f"{self._token_prefix}{next(self._serial)}", spec.source_id, timeout_s) for spec in specs]
        for spec, job in zip(specs, jobs, strict=True):
            self.jobs[job.token] = job
            spec.token = job.token
        batch = JobBatch(
            specs=specs,
            output_root=output.root if output else None,
            output_format=output.format if output else "json",
            announce_stages=len(specs) == 1,
        )
        pool = self._pool
        backstop = (timeout_s + self.kill_grace_s) * len(specs) + _BACKSTOP_S
        try:
            future = pool.schedule(run_batch, args=(batch,), timeout=backstop)
        except RuntimeError:  # the pool is in its error state
            await self._replace_pool(pool)
            pool = self._pool
            future = pool.schedule(run_batch, args=(batch,), timeout=backstop)
        pending = _PendingBatch(jobs, future, time.monotonic())
        self._batches.add(pending)
        try:
            try:
                results: list[JobResult] = await asyncio.wrap_future(future)
                if jobs[0].started_at:
                    # Waiting behind another batch for a worker is not part of any job's time.
                    results[0].queued_s = max(0.0, jobs[0].started_at - pending.submitted_at)
                return results
            except asyncio.CancelledError:
                raise
            except BaseException as error:
                return await self._salvage(batch, pending, error, pool, timeout_s, output)
        except asyncio.CancelledError:
            for job in jobs:
                if job.running:
                    await asyncio.shield(self.kill(job, ErrorKind.INTERNAL, "cancelled"))
            future.cancel()
            raise
        finally:
            self._batches.discard(pending)
            for job in jobs:
                self.jobs.pop(job.token, None)

    async def _salvage(
        self,
        batch: JobBatch,
        pending: _PendingBatch,
        error: BaseException,
        pool: ProcessPool,
        timeout_s: float,
        output: OutputTarget | None,
    ) -> list[JobResult]:
        """A batch that did not come back: the job it was running gets the failure, and the jobs it had
        not finished are run again one at a time (their outputs, if written, are rewritten identically)."""
        jobs = pending.jobs
        culprit = next((job for job in jobs if job.kill_reason is not None), None)
        if culprit is None:
            started = [job for job in jobs if job.pid is not None]
            culprit = max(started, key=lambda job: job.started_at) if started else jobs[0]
        results: list[JobResult] = []
        for spec, job in zip(batch.specs, jobs, strict=True):
            if job is culprit:
                results.append(await self._failure_for(spec, job, error, pool))
            else:
                self.jobs.pop(job.token, None)
                (again,) = await self.run_batch([spec.model_copy(update={"token": None})], timeout_s, output=output)
                results.append(again)
        return results

    async def _failure_for(self, spec: JobSpec, job: RunningJob, error: BaseException, pool: ProcessPool) -> JobResult:
        result = await self._explain(spec, job, error, pool)
        # Its worker died or was killed mid-job: what the job wrote to stderr is still in the worker's file.
        result.stderr_tail, result.stderr_bytes = stderr_left_by(self._stderr_folder, job.pid)
        return result

    async def _explain(self, spec: JobSpec, job: RunningJob, error: BaseException, pool: ProcessPool) -> JobResult:
        if job.kill_reason is not None:
            kind, message, state = job.kill_reason
            return _failure(spec, kind, message, state=state)
        if isinstance(error, BrokenProcessPool):
            await self._replace_pool(pool)
            return _failure(spec, ErrorKind.CRASH, "the worker pool broke while the job waited; it was restarted")
        if isinstance(error, ProcessExpired):
            words = last_words(self._stderr_folder, job.pid)
            return _failure(spec, ErrorKind.CRASH, crash_message(error.exitcode) + (f": {words}" if words else ""))
        if isinstance(error, TimeoutError):
            return _failure(spec, ErrorKind.TIMEOUT, "no result; the worker was killed by the pool's backstop")
        if isinstance(error, FutureCancelled):
            if job.pid is None:
                return _failure(spec, ErrorKind.CRASH, f"no worker started the job within {START_TIMEOUT_S:g}s")
            return _failure(spec, ErrorKind.INTERNAL, "job cancelled by the pool", state=JobState.CANCELLED)
        # e.g. a result that cannot be pickled back
        return _failure(spec, ErrorKind.INTERNAL, f"{type(error).__name__}: {error}")

    async def kill(self, job: RunningJob, kind: ErrorKind, message: str, state: JobState = JobState.FAILED) -> None:
        """Stop one job's whole process group: TERM, a grace period, then KILL; pebble replaces the worker.
        The job ends with ``kind``, ``message`` and ``state`` (FAILED may be retried, DEAD will not)."""
        if job.done:
            return  # it finished just now; its worker has moved on to another job
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
        if self._watchdog_task is not None:
            self._watchdog_task.cancel()
        await self._wait_for_starting_workers(STARTING_WORKERS_WAIT_S / 10 if cancel else STARTING_WORKERS_WAIT_S)
        if cancel:
            pool.stop()
        else:
            pool.close()
        await asyncio.to_thread(pool.join)
        self._channel.put(_STOP)
        remove_capture_folder(self._stderr_folder)

    async def _wait_for_starting_workers(self, limit_s: float) -> None:
        """Wait (at most ``limit_s``) until no worker is still starting up. A spawned worker unpickles
        the pool's own locks when it starts; stopping the pool frees them, and a worker still starting
        would then die printing a traceback on the user's terminal (its stderr is only redirected once
        it has started). With more slots than documents, short runs end while workers still boot."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            starting = [
                process
                for process in multiprocessing.active_children()
                if process not in self._children_before and process.pid not in self._ready_pids
            ]
            if not starting:
                return
            await asyncio.sleep(0.02)


@dataclass(eq=False)
class _PendingBatch:
    jobs: list[RunningJob]
    future: Any
    submitted_at: float

    def started(self) -> bool:
        return any(job.pid is not None for job in self.jobs)


def _failure(spec: JobSpec, kind: ErrorKind, message: str, state: JobState = JobState.FAILED) -> JobResult:
    return JobResult(source_id=spec.source_id, state=state, error_kind=kind, message=message)
