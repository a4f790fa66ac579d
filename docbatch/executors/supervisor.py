"""The one supervisor of jobs in a child process, for every executor (local pool, Dask task, broker worker).

A ``JobSupervisor`` keeps one child process that runs batches of jobs one after another (recycled
after N batches) and enforces, from the calling thread, what the executor contract promises: each job
has its own deadline counted from its start; a job past it, or killed on request (the memory
governor), has its child's whole process group stopped (TERM, a grace period, KILL) so that whatever
the processor started dies too; a child that dies fails only the job it was running (its signal or
exit code and the last words it wrote to stderr name the cause) and the rest of the batch runs on in
a fresh child; a memory cap (RLIMIT_AS) bounds each child where no coordinator can watch it (Dask);
a stop request leaves the jobs not started ``pending``.

Why ``subprocess.Popen`` of ``python -c`` rather than multiprocessing (Process, Pool, pebble): a stock
Dask worker runs tasks in a *daemonic* multiprocessing process, and multiprocessing refuses children
there ("daemonic processes are not allowed to have children"). A plain child process has no such
rule, and costs the same as multiprocessing's spawn (a fresh interpreter), with none of its shared
locks. What spawn gave for free is done here by hand: the parent's ``sys.path`` is handed over (so
``--processor module:function``, plugins and test helpers import the same way), the environment and
working folder are inherited. Messages are pickled and framed by ``multiprocessing.connection``'s
``Connection`` over two ``os.pipe()`` pairs (no multiprocessing process involved); a closed pipe is
how each side notices the other's death.

Per-job round trips stay off the critical path: a batch travels in one message; the child sends one
message per job, its result, which also marks the start of the next job (and the deadline's start);
long jobs (``announce_stages``) also report "extract" and "write" for the live view.

The child dies with its parent, even when the parent is SIGKILLed: it sets a parent-death signal
(``PR_SET_PDEATHSIG``), and reads EOF on its request pipe. The kernel sends that signal when the
*thread* that created the child exits, so every child is started from one long-lived thread of the
process (``_Spawner``), never from a worker thread that may end (Dask retires threads; a local driver
thread ends with its executor). Each child leads its own process group (so a terminal's Ctrl-C reaches
only the coordinator, which decides how jobs end, and a kill reaches whatever the processor started)
and its fds 1 and 2 go to its own file (worker_stderr.py).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection

from docbatch.executors.base import RunningJob, StageListener, not_started
from docbatch.executors.child import READY as _READY
from docbatch.executors.child import STAGE as _STAGE
from docbatch.executors.child import STOP as _STOP
from docbatch.executors.worker_stderr import capture_path, last_words, stderr_left_by
from docbatch.models import ErrorKind, JobBatch, JobResult, JobState
from docbatch.processes import signal_group

# Told (index of the job in its batch, its result) as each job of a batch ends.
ResultListener = Callable[[int, JobResult], None]

KILL_GRACE_S = 2.0
START_TIMEOUT_S = 120.0  # a child that has not said it is ready by then is given up
_serial = itertools.count()


def crash_message(returncode: int | None) -> str:
    """Explain a child's exit: a negative code is a signal (``worker process died with SIGSEGV``)."""
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"worker process died with {name}"
    return f"worker process exited unexpectedly (exit code {returncode})"


@dataclass(frozen=True)
class SupervisorSettings:
    """How a supervisor runs its children.

    ``stderr_folder``: where each child's stderr file goes (the caller owns and removes it);
    ``memory_cap_bytes``: the address-space limit of each child (None: none; a job over it ends
    ``memory``, dead); ``batches_per_child``: recycle the child after that many batches (0: never);
    ``kill_grace_s``: seconds between TERM and KILL; ``on_stage``: told (source_id, stage) as jobs
    start ("read" or "running"), move on ("extract", "write") and end ("done").
    """

    stderr_folder: str
    memory_cap_bytes: int | None = None
    batches_per_child: int = 0
    kill_grace_s: float = KILL_GRACE_S
    on_stage: StageListener | None = None


class _Spawner:
    """Starts every child from one thread that lives as long as the process (see the module docstring)."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[tuple[list[str], dict[str, object], Future[subprocess.Popen[bytes]]]]
        self._requests = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, argv: list[str], **options: object) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="docbatch-spawner", daemon=True)
                self._thread.start()
        started: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put((argv, options, started))
        return started.result()

    def _serve(self) -> None:
        while True:
            argv, options, started = self._requests.get()
            try:
                started.set_result(subprocess.Popen(argv, **options))  # type: ignore[call-overload]
            except BaseException as error:  # handed to the caller's thread
                started.set_exception(error)


_spawner = _Spawner()


class _Child:
    """One running child: its process, its two pipes and its stderr file."""

    def __init__(self, settings: SupervisorSettings) -> None:
        self.stderr_path = capture_path(settings.stderr_folder, f"{os.getpid()}-{next(_serial)}")
        request_read, request_write = os.pipe()
        event_read, event_write = os.pipe()
        # The parent's import path, as multiprocessing's spawn would hand it over.
        boot = (
            f"import sys; sys.path[:] = {sys.path!r}; from docbatch.executors.child import serve_child; serve_child()"
        )
        argv = [sys.executable, "-c", boot, str(request_read), str(event_write), str(os.getpid())]
        argv += [self.stderr_path, str(settings.memory_cap_bytes or 0)]
        try:
            with open(self.stderr_path, "wb") as stderr_file:
                self.process = _spawner.popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=stderr_file,
                    stderr=stderr_file,
                    pass_fds=(request_read, event_write),
                    process_group=0,  # its own group, in the coordinator's session (as pebble's workers were)
                )
        finally:
            os.close(request_read)
            os.close(event_write)
        self.requests = Connection(request_write, readable=False)
        self.events = Connection(event_read, writable=False)
        self.batches = 0
        self.send_lock = threading.Lock()  # a stop request may come from another thread mid-batch

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_until_ready(self) -> str | None:
        """None once the child has started, else why it did not (its last words)."""
        try:
            if self.events.poll(START_TIMEOUT_S) and self.events.recv()[0] == _READY:
                return None
        except (EOFError, OSError):
            pass
        self.stop_group(0.0)
        words = last_words(self.stderr_path)
        return f"the worker process did not start ({words or crash_message(self.process.returncode)})"

    def send(self, message: object) -> None:
        with self.send_lock:
            self.requests.send(message)

    def stop_group(self, grace_s: float) -> None:
        """TERM to the child's process group, ``grace_s`` for it to go, then KILL to whatever is left
        (a processor's own children may outlive their parent); the child is reaped."""
        signal_group(self.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(grace_s)
        signal_group(self.pid, signal.SIGKILL)
        self.process.wait()

    def close(self, grace_s: float) -> None:
        """Ask the child to leave (EOF on its requests), kill its group if it does not, remove its file."""
        with contextlib.suppress(OSError):
            self.requests.close()
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.stop_group(0.0)
        signal_group(self.pid, signal.SIGKILL)  # anything the last job left running in its group
        self.events.close()
        with contextlib.suppress(OSError):
            os.unlink(self.stderr_path)


class JobSupervisor:
    """Runs batches of jobs in one supervised child process at a time (see the module docstring).

    ``run`` is called from one thread at a time; ``stop_admitting`` and ``close`` from any thread."""

    def __init__(self, settings: SupervisorSettings) -> None:
        self.settings = settings
        self._child: _Child | None = None
        self._stopping = False
        self._closed = False
        self._busy = False

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def start(self) -> str | None:
        """Start the child now rather than at the first batch; None, or why it could not start."""
        if self._child is not None and self._child.process.poll() is None:
            return None
        self._discard_child()
        try:
            child = _Child(self.settings)
        except OSError as error:  # no pipe or process to be had (too many open files, no memory)
            return f"the worker process did not start ({error})"
        problem = child.wait_until_ready()
        if problem is None:
            self._child = child
        else:
            with contextlib.suppress(OSError):
                os.unlink(child.stderr_path)
        return problem

    def run(
        self,
        batch: JobBatch,
        jobs: list[RunningJob],
        *,
        wanted: Callable[[], bool] = lambda: True,
        on_result: ResultListener | None = None,
    ) -> list[JobResult]:
        """Run ``batch``'s jobs one after the other, each under its ``RunningJob.timeout_s``; one result per
        spec, in order. ``jobs`` (one per spec) are updated as they run (pid, start, stage, done). A child
        that dies fails the job it ran and the rest go on in a fresh child, unless ``wanted()`` says the
        batch is abandoned or the supervisor is stopping: then the jobs not started come back ``pending``.
        ``on_result(index, result)`` hears each result as soon as it is known (from this thread).
        Never raises for a document."""
        results: list[JobResult] = []

        def settle(found: list[JobResult]) -> None:
            for result in found:
                results.append(result)
                if on_result is not None:
                    on_result(len(results) - 1, result)

        while len(results) < len(batch.specs):
            first = len(results)
            if self._stopping or self._closed or (results and not wanted()):
                settle([not_started(spec.source_id) for spec in batch.specs[first:]])
                break
            problem = self.start()
            if problem is not None or self._child is None:
                settle([_failure(batch.specs[first].source_id, ErrorKind.CRASH, problem or "no worker")])
                continue
            rest = batch if first == 0 else batch.model_copy(update={"specs": batch.specs[first:]})
            self._run_in_child(self._child, rest, jobs[first:], settle)
        return results

    def stop_admitting(self) -> None:
        """Start no further job: the current batch's jobs not started, and every later batch, come back pending."""
        self._stopping = True
        child = self._child
        if child is not None and self._busy:
            with contextlib.suppress(OSError):
                child.send(_STOP)

    def kill_current(self) -> None:
        """Stop the child's group now (a cancelled run); its job ends as a crash unless told otherwise."""
        self._closed = True
        child = self._child
        if child is not None:
            signal_group(child.pid, signal.SIGKILL)

    def close(self) -> None:
        """Let the child go (it finishes nothing more); nothing is left running in its group."""
        self._closed = True
        self._discard_child()

    def _discard_child(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.close(self.settings.kill_grace_s)

    def _run_in_child(
        self, child: _Child, batch: JobBatch, jobs: list[RunningJob], settle: Callable[[list[JobResult]], None]
    ) -> None:
        """Settles results for a prefix of ``batch``, each as it comes: all of them, or those before the
        job its child died in plus that job's failure (the child is then discarded)."""
        done = 0
        self._busy = True
        with contextlib.suppress(OSError):  # the child is gone: the first job's failure says how
            child.send(batch)
            if self._stopping:  # asked while the batch was on its way: stop_admitting saw no busy child
                child.send(_STOP)
        self._begin(jobs[0], child.pid, batch.announce_stages)
        child.batches += 1
        while done < len(jobs):
            job = jobs[done]
            message = self._next_message(child, job)
            if message is None:  # the child died or was killed
                settle([self._failure_of(child, job)])
                self._child = None
                child.close(0.0)
                break
            if message[0] == _STAGE:
                self._note_stage(jobs[message[1]], str(message[2]))
                continue
            settle([self._finish(job, message[2])])
            done += 1
            if done < len(jobs):
                self._begin(jobs[done], child.pid, batch.announce_stages)
        self._busy = False
        if self._child is child and 0 < self.settings.batches_per_child <= child.batches:
            self._discard_child()  # recycled: a slow leak in a processor dies with it

    def _next_message(self, child: _Child, job: RunningJob) -> tuple[str, int, object] | None:
        """The child's next message, or None once it has died; kills it when ``job``'s time is up."""
        while True:
            if job.kill_reason is None:
                wait_s = job.started_at + job.timeout_s - time.monotonic()
                if wait_s <= 0:
                    job.kill_reason = (
                        ErrorKind.TIMEOUT,
                        f"no result within {job.timeout_s:g}s; worker killed",
                        JobState.FAILED,
                    )
                    child.stop_group(self.settings.kill_grace_s)
                    return None
            else:
                wait_s = 1.0  # someone else is killing it: its pipe closes soon
            try:
                if child.events.poll(wait_s):
                    message: tuple[str, int, object] = child.events.recv()
                    return message
            except (EOFError, OSError):
                return None

    def _begin(self, job: RunningJob, pid: int, announce_stages: bool) -> None:
        job.pid, job.started_at = pid, time.monotonic()
        # A job in a batch of short ones reports no further stages, so it says only that it runs.
        self._note_stage(job, "read" if announce_stages else "running")

    def _note_stage(self, job: RunningJob, stage: str) -> None:
        job.stage = stage
        if self.settings.on_stage is not None:
            self.settings.on_stage(job.source_id, stage)

    def _finish(self, job: RunningJob, result: object) -> JobResult:
        assert isinstance(result, JobResult)
        job.done = True
        self._note_stage(job, "done")
        cap = self.settings.memory_cap_bytes
        if result.error_kind is ErrorKind.MEMORY and cap:
            # The address-space cap is --memory-per-job: trying again would hit it again.
            result.state = JobState.DEAD
            result.message = f"over --memory-per-job {cap // 2**20} MiB ({result.message})"
        return result

    def _failure_of(self, child: _Child, job: RunningJob) -> JobResult:
        """The result of the job whose child died: the kill's reason, or the crash in words."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(self.settings.kill_grace_s)
        if job.kill_reason is not None:
            kind, message, state = job.kill_reason
            result = _failure(job.source_id, kind, message, state)
        elif self._closed:
            result = _failure(job.source_id, ErrorKind.INTERNAL, "cancelled", JobState.CANCELLED)
        else:
            words = last_words(child.stderr_path)
            message = crash_message(child.process.returncode) + (f": {words}" if words else "")
            result = _failure(job.source_id, ErrorKind.CRASH, message)
        job.done = True
        result.pid = child.pid
        # What the job wrote to stderr before it died is still in the child's file.
        result.stderr_tail, result.stderr_bytes = stderr_left_by(child.stderr_path)
        return result


def _failure(source_id: str, kind: ErrorKind, message: str, state: JobState = JobState.FAILED) -> JobResult:
    return JobResult(source_id=source_id, state=state, error_kind=kind, message=message)
