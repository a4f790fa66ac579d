"""What a Dask task runs on a Dask worker: the batch's jobs, each in a supervised child process.

Dask has no per-task timeout and runs tasks in threads of the worker process, where a hung parser
could never be stopped and a crashing one would take the Dask worker with it. So every job runs in a
pebble process pool owned by the Dask worker process (one child per Dask worker thread): pebble kills
a child past its deadline and replaces it, a crash fails only its job, and `--memory-per-job` caps
each child's address space. The children carry a parent-death signal, so they die with their Dask
worker even when it is SIGKILLed. Dask workers must allow child processes: start them with
``DASK_DISTRIBUTED__WORKER__DAEMON=False`` (docbatch's own LocalCluster does).
"""

from __future__ import annotations

import atexit
import itertools
import os
import resource
import signal
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from pebble import ProcessExpired, ProcessPool

from docbatch.executors.worker import init_worker, run_batch
from docbatch.executors.worker_stderr import last_words, new_capture_folder, remove_capture_folder, stderr_left_by
from docbatch.models import ErrorKind, JobBatch, JobResult, JobSpec, JobState
from docbatch.processes import signal_group


@dataclass
class _Children:
    """A pool of job processes in this Dask worker, and which process started which job (each job
    announces its pid, as locally), so that a timeout can kill the job's whole process group."""

    pool: ProcessPool
    channel: Any
    stderr_folder: str | None = None
    pids: dict[str, int] = field(default_factory=dict)

    def listen(self) -> None:
        while True:
            token, pid, _stage = self.channel.get()
            self.pids[token] = pid


_children: dict[tuple[int, int | None], _Children] = {}
_lock = threading.Lock()
_serial = itertools.count()


def _init_child(channel: Any, memory_per_job: int | None, stderr_folder: str | None = None) -> None:
    init_worker(channel, None, stderr_folder)
    if memory_per_job:
        resource.setrlimit(resource.RLIMIT_AS, (memory_per_job, memory_per_job))


def _pool(memory_per_job: int | None) -> _Children:
    """One pool per Dask worker process (and memory cap), as many children as the worker has threads."""
    import multiprocessing

    from distributed import get_worker

    size = max(1, get_worker().state.nthreads)
    with _lock:
        key = (size, memory_per_job)
        found = _children.get(key)
        if found is None or not found.pool.active:
            context = multiprocessing.get_context("spawn")
            channel = context.SimpleQueue()
            # The children's stderr goes to files, not to the Dask worker's log (or, with dask-local, the
            # user's terminal); each job's tail comes back in its result.
            folder = new_capture_folder()
            atexit.register(remove_capture_folder, folder)
            pool = ProcessPool(
                max_workers=size, initializer=_init_child, initargs=(channel, memory_per_job, folder), context=context
            )
            found = _children[key] = _Children(pool, channel, folder)
            threading.Thread(target=found.listen, name="docbatch-job-starts", daemon=True).start()
        return found


def run_on_dask_worker(batch: JobBatch, timeout_s: float, memory_per_job: int | None) -> list[JobResult]:
    """Run each job of ``batch`` in a child process under its own deadline; one result per job."""
    children = _pool(memory_per_job)
    results = []
    for spec in batch.specs:
        token = f"{os.getpid()}-{next(_serial)}"
        single = JobBatch(
            specs=[spec.model_copy(update={"token": token})],
            output_root=batch.output_root,
            output_format=batch.output_format,
        )
        future: Any = children.pool.schedule(run_batch, args=(single,), timeout=timeout_s)
        try:
            (result,) = future.result()
        except FutureTimeout:
            # pebble stops the child itself; whatever the processor started dies with its group.
            pid = children.pids.get(token)
            if pid is not None:
                signal_group(pid, signal.SIGKILL)
            result = _failure(spec, ErrorKind.TIMEOUT, f"no result within {timeout_s:g}s; its process was killed")
        except ProcessExpired as error:
            words = last_words(children.stderr_folder, children.pids.get(token))
            result = _failure(spec, ErrorKind.CRASH, _crash_message(error.exitcode) + (f": {words}" if words else ""))
        except Exception as error:  # a result that cannot be sent back, a pool that broke
            result = _failure(spec, ErrorKind.INTERNAL, f"{type(error).__name__}: {error}")
        if result.state is not JobState.SUCCEEDED and not result.stderr_tail:  # its child died mid-job
            result.stderr_tail, result.stderr_bytes = stderr_left_by(children.stderr_folder, children.pids.get(token))
        if result.error_kind is ErrorKind.MEMORY and memory_per_job:
            # The address-space cap is --memory-per-job: trying again would hit it again.
            result.state = JobState.DEAD
            result.message = f"over --memory-per-job {memory_per_job // 2**20} MiB ({result.message})"
        children.pids.pop(token, None)
        results.append(result)
    return results


def _crash_message(exitcode: int | None) -> str:
    from docbatch.executors.local import crash_message

    return crash_message(exitcode)


def _failure(spec: JobSpec, kind: ErrorKind, message: str) -> JobResult:
    return JobResult(source_id=spec.source_id, state=JobState.FAILED, error_kind=kind, message=message)
