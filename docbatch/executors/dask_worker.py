"""What a Dask task runs on a Dask worker: the batch's jobs, each supervised in a child process.

Dask has no per-task timeout and runs tasks in threads of the worker process, where a hung parser
could never be stopped and a crashing one would take the Dask worker with it. So each Dask worker
thread has its own ``JobSupervisor`` (supervisor.py) and child process: a job past its deadline has
its child's process group killed, a crash fails only its job, and ``--memory-per-job`` caps each
child's address space (no coordinator can watch these processes). The supervisor starts its children
without multiprocessing, so a stock `dask worker` (whose nanny makes the worker a daemonic process)
needs no configuration, and the children die with their Dask worker even when it is SIGKILLed.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading

from docbatch.executors.base import RunningJob
from docbatch.executors.supervisor import JobSupervisor, SupervisorSettings
from docbatch.executors.worker_stderr import new_capture_folder, remove_capture_folder
from docbatch.models import JobBatch, JobResult

# One supervisor per (Dask worker thread, memory cap): a thread runs one task at a time, so each
# supervisor is used by one thread only.
_supervisors: dict[tuple[int, int | None], JobSupervisor] = {}
_lock = threading.Lock()
_serial = itertools.count()
_stderr_folder: str | None = None


def _supervisor(memory_per_job: int | None) -> JobSupervisor:
    global _stderr_folder
    key = (threading.get_ident(), memory_per_job)
    with _lock:
        found = _supervisors.get(key)
        if found is None:
            if _stderr_folder is None:
                # The children's stderr goes to files, not to the Dask worker's log (or, with dask-local,
                # the user's terminal); each job's tail comes back in its result.
                _stderr_folder = new_capture_folder()
                atexit.register(_close_all)
            found = _supervisors[key] = JobSupervisor(
                SupervisorSettings(stderr_folder=_stderr_folder, memory_cap_bytes=memory_per_job)
            )
        return found


def _close_all() -> None:
    with _lock:
        for supervisor in _supervisors.values():
            supervisor.close()
        _supervisors.clear()
    remove_capture_folder(_stderr_folder)


def run_on_dask_worker(batch: JobBatch, timeout_s: float, memory_per_job: int | None) -> list[JobResult]:
    """Run each job of ``batch`` in this thread's supervised child under its own deadline (``timeout_s``,
    seconds from the job's start) and ``memory_per_job`` (bytes, or None); one result per job."""
    jobs = [RunningJob(f"{os.getpid()}-{next(_serial)}", spec.source_id, timeout_s) for spec in batch.specs]
    return _supervisor(memory_per_job).run(batch, jobs)
