"""Local executor: one supervised child process per worker (``-j``), fed batches from one queue.

Each worker is a ``JobSupervisor`` (supervisor.py) driven by its own thread: the thread takes the
next batch the runner handed over, runs it in its child (each job under its own deadline, the whole
process group killed when time is up, a crash failing only its job while the rest of the batch goes
on in a fresh child), and resolves the batch's future. The event loop is woken once per batch, never
per job. The job table (``RunningJob``: pid, start, stage) is what the memory governor measures and
kills through ``job_control``.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import signal
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field

from docbatch.executors.base import JobControl, OutputTarget, RunningJob, StageListener
from docbatch.executors.supervisor import KILL_GRACE_S, JobSupervisor, SupervisorSettings
from docbatch.executors.worker_stderr import new_capture_folder, remove_capture_folder
from docbatch.models import ErrorKind, JobBatch, JobResult, JobSpec, JobState
from docbatch.processes import pid_alive, signal_group

# Batches in flight per worker: one running and one waiting, so a worker never idles while the
# coordinator takes in a result and hands out the next batch (20,000 tiny files: 3.3 s instead of
# 4.4-5.3 s). When the run stops, the waiting ones come back pending (workers check before each job).
BATCHES_PER_WORKER = 2


@dataclass(eq=False)
class _Handover:
    """A batch waiting for, or run by, a worker thread."""

    batch: JobBatch
    jobs: list[RunningJob]
    submitted_at: float
    future: Future[list[JobResult]] = field(default_factory=Future)
    abandoned: bool = False  # its run_batch was cancelled: after a crash, do not go on with the rest

    def started(self) -> bool:
        return any(job.pid is not None for job in self.jobs)

    def wanted(self) -> bool:
        return not self.abandoned


class LocalExecutor:
    """Runs jobs in supervised worker processes on this machine."""

    name = "local"
    batch_target_s = 0.05  # a hand-over costs a fraction of a millisecond: short batches, short tails
    writes_outputs = True

    def __init__(self, workers: int, max_jobs_per_worker: int = 0, kill_grace_s: float = KILL_GRACE_S) -> None:
        self.workers = workers
        self.slots = workers * BATCHES_PER_WORKER
        self.max_jobs_per_worker = max_jobs_per_worker  # in hand-overs (a document or a batch of short ones)
        self.kill_grace_s = kill_grace_s
        self.jobs: dict[str, RunningJob] = {}
        self.stage_listener: StageListener | None = None
        self._handovers: queue.SimpleQueue[_Handover | None] = queue.SimpleQueue()
        self._in_flight: set[_Handover] = set()
        self._supervisors: list[JobSupervisor] = []
        self._threads: list[threading.Thread] = []
        self._stderr_folder: str | None = None
        self._token_prefix = uuid.uuid4().hex[:8] + "-"
        self._serial = itertools.count()

    async def start(self) -> None:
        self._stderr_folder = new_capture_folder()
        settings = SupervisorSettings(
            stderr_folder=self._stderr_folder,
            batches_per_child=self.max_jobs_per_worker,
            kill_grace_s=self.kill_grace_s,
            on_stage=self._on_stage,
        )
        for index in range(self.workers):
            supervisor = JobSupervisor(settings)
            thread = threading.Thread(
                target=self._work, args=(supervisor,), name=f"docbatch-worker-{index}", daemon=True
            )
            self._supervisors.append(supervisor)
            self._threads.append(thread)
            thread.start()

    def _on_stage(self, source_id: str, stage: str) -> None:
        # Read at call time: the runner sets stage_listener after building the executor.
        if self.stage_listener is not None:
            self.stage_listener(source_id, stage)

    def _work(self, supervisor: JobSupervisor) -> None:
        """A worker thread: start its child, then run hand-overs until told to stop (None)."""
        supervisor.start()  # at once, so that the child's start-up overlaps discovery
        while (handover := self._handovers.get()) is not None:
            if not handover.future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            try:
                results = supervisor.run(handover.batch, handover.jobs, wanted=handover.wanted)
            except BaseException as error:  # a bug: the runner fails the batch as internal
                handover.future.set_exception(error)
            else:
                handover.future.set_result(results)
        supervisor.close()

    @property
    def job_control(self) -> JobControl:
        return self

    def describe(self) -> dict[str, object]:
        return {"executor": self.name, "workers": self.workers}

    def stop_admitting(self) -> None:
        """The run is stopping: workers start no further job; those not started come back ``pending``."""
        for supervisor in self._supervisors:
            supervisor.stop_admitting()

    def running_jobs(self) -> list[RunningJob]:
        """The jobs a worker is running now (one per busy worker)."""
        return [job for job in list(self.jobs.values()) if job.running]

    def waiting_batches(self) -> int:
        """Batches handed over that no worker has started yet."""
        return sum(1 for handover in list(self._in_flight) if not handover.started())

    async def run_batch(
        self, specs: list[JobSpec], timeout_s: float, *, output: OutputTarget | None = None
    ) -> list[JobResult]:
        """Run ``specs`` in one worker, one after the other, each under ``timeout_s``; one result per spec.
        With ``output`` the worker writes each output itself."""
        if not self._threads:
            raise RuntimeError("LocalExecutor.run_batch called before start()")
        jobs = [RunningJob(f"{self._token_prefix}{next(self._serial)}", spec.source_id, timeout_s) for spec in specs]
        batch = JobBatch(
            specs=specs,
            output_root=output.root if output else None,
            output_format=output.format if output else "json",
            announce_stages=len(specs) == 1,
        )
        handover = _Handover(batch, jobs, time.monotonic())
        for job in jobs:
            self.jobs[job.token] = job
        self._in_flight.add(handover)
        self._handovers.put(handover)
        try:
            results = await asyncio.wrap_future(handover.future)
            if jobs[0].started_at:
                # Waiting behind another batch for a worker is not part of any job's time.
                results[0].queued_s = max(0.0, jobs[0].started_at - handover.submitted_at)
            return results
        except asyncio.CancelledError:
            handover.abandoned = True
            for job in jobs:
                if job.running:
                    await asyncio.shield(self.kill(job, ErrorKind.INTERNAL, "cancelled"))
            raise
        finally:
            self._in_flight.discard(handover)
            for job in jobs:
                self.jobs.pop(job.token, None)

    async def kill(self, job: RunningJob, kind: ErrorKind, message: str, state: JobState = JobState.FAILED) -> None:
        """Stop one job's whole process group: TERM, a grace period, then KILL; its worker gets a fresh
        child. The job ends with ``kind``, ``message`` and ``state`` (FAILED may be retried, DEAD will not)."""
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
        if not self._threads:
            return
        threads, self._threads = self._threads, []
        if cancel:
            for supervisor in self._supervisors:
                supervisor.kill_current()
        for _ in threads:
            self._handovers.put(None)
        for thread in threads:
            await asyncio.to_thread(thread.join)
        remove_capture_folder(self._stderr_folder)
