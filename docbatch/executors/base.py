"""The executor contract: the only seam between one machine and many.

An executor runs jobs somewhere supervised (local worker processes, a Dask cluster, workers pulling
from a broker) and gives back one ``JobResult`` per job. The runner knows executors only through
this module: everything it asks of one is declared here, so a new executor is its own module(s)
plus one registration (executors/registry.py), with no change to the engine.

What an executor promises:

- ``run_batch`` never raises for a bad document. Each job of a batch runs under its own deadline
  (``timeout_s``, seconds, counted from the job's start): a job past it is a ``timeout`` result and
  whatever runs it is killed; a worker that dies is a ``crash`` result; the rest of the batch still
  gets results. Jobs not started because the run stopped admitting come back ``pending``.
- ``ExecutorLost`` (docbatch.errors) is the one exception it may raise from ``run_batch``: nothing
  can run any more (a Dask scheduler or a broker gone). The runner stops the run as interrupted
  (exit 4, resumable); the batch's jobs stay unfinished. Any other exception is a bug in the
  executor; the runner fails that batch's jobs as ``internal`` and goes on.
- With ``writes_outputs`` the workers write each output themselves (``run_batch`` gets an
  ``OutputTarget`` and results carry ``output_path``); without it the results carry extractions and
  the coordinator writes them.
- ``job_control`` is an optional capability: an executor whose jobs run as processes the
  coordinator can see returns an object that lists them and kills one (the memory governor needs
  it); a cluster executor returns ``None`` and governs memory on its own side.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from docbatch.models import ErrorKind, JobResult, JobSpec, JobState

# Told (source_id, stage) as jobs move through their stages, when the executor can see that. Called
# from any thread; it must only set plain attributes.
StageListener = Callable[[str, str], None]


@dataclass(frozen=True)
class OutputTarget:
    """Where and in which format outputs are written (``root``: the output folder; ``format``: an
    ``OutputFormat`` value). Executors that do not write outputs still read ``format``: it says
    whether the processors must render Markdown."""

    root: str
    format: str


@dataclass(eq=False)
class RunningJob:
    """A job handed to a worker process the coordinator can see.

    ``token``: unique per hand-over; ``timeout_s``: its deadline in seconds; ``pid`` and
    ``started_at`` (``time.monotonic()``) are set when a worker starts the job; ``stage`` follows the
    job (queued, read, extract, write, running); ``done`` once it has finished; ``kill_reason`` is the
    (kind, message, state) a kill gave it.
    """

    token: str
    source_id: str
    timeout_s: float
    pid: int | None = None
    started_at: float = 0.0
    stage: str = "queued"
    done: bool = False
    kill_reason: tuple[ErrorKind, str, JobState] | None = None

    @property
    def running(self) -> bool:
        return self.pid is not None and not self.done


@runtime_checkable
class JobControl(Protocol):
    """What the memory governor needs of an executor whose jobs run in processes it can measure."""

    def running_jobs(self) -> list[RunningJob]:
        """The jobs a worker is running now (one per busy worker)."""
        ...

    def waiting_batches(self) -> int:
        """Batches handed over that no worker has started yet."""
        ...

    async def kill(self, job: RunningJob, kind: ErrorKind, message: str, state: JobState = JobState.FAILED) -> None:
        """Stop ``job``'s whole process group (TERM, a grace period, KILL); it ends with ``kind``,
        ``message`` and ``state`` (FAILED may be retried, DEAD will not). A job already done is left."""
        ...


class Executor(Protocol):
    """Runs jobs supervised somewhere and returns their results (see the module docstring)."""

    stage_listener: StageListener | None  # set by the runner before the first batch

    # Read-only: a class attribute, an instance attribute or a property all satisfy these.
    @property
    def name(self) -> str:
        """Shown in the report and by `docbatch status`, e.g. "local" or "dask tcp://h:8786"."""
        ...

    @property
    def slots(self) -> int:
        """Batches the runner keeps in flight at once (1 or more)."""
        ...

    @property
    def batch_target_s(self) -> float:
        """Seconds of work a batch should carry: more where a hand-over costs more."""
        ...

    @property
    def writes_outputs(self) -> bool:
        """True: workers write the outputs; False: results carry extractions the coordinator writes."""
        ...

    async def start(self) -> None:
        """Called once before the first job: start workers, connect to a cluster or broker.

        Raises a DocbatchError (e.g. ConfigError) when it cannot start (a scheduler that cannot be
        reached): the run then ends at once with exit 5, its documents left pending."""

    async def run_batch(self, specs: list[JobSpec], timeout_s: float, *, output: OutputTarget) -> list[JobResult]:
        """Run ``specs`` one after the other, each under ``timeout_s``; one result per spec, in order.

        Raises ExecutorLost when nothing can run any more."""
        ...

    def stop_admitting(self) -> None:
        """The run is stopping: start no further job; jobs not started come back ``pending``."""

    def describe(self) -> dict[str, object]:
        """What `docbatch status` shows of the executor (workers, threads, dashboard, queue); at least
        ``{"executor": name}``. Called about once a second from the event loop: must not block."""
        ...

    @property
    def job_control(self) -> JobControl | None:
        """The running jobs and a way to kill one, or None when the executor cannot offer that."""
        ...

    async def close(self, *, cancel: bool = False) -> None:
        """Stop the workers; with ``cancel`` do not wait for jobs in flight."""


def with_absolute_paths(specs: list[JobSpec]) -> list[JobSpec]:
    """``specs`` with each path made absolute against the coordinator's working folder: a worker on
    another machine (or started in another folder) reads the inputs by the same absolute path."""
    here = os.getcwd()  # once per batch, not once per document
    return [
        spec
        if os.path.isabs(spec.path)
        else spec.model_copy(update={"path": os.path.normpath(os.path.join(here, spec.path))})
        for spec in specs
    ]


def not_started(source_id: str) -> JobResult:
    """The result of a job handed over but never started (the run or the worker stopped admitting):
    ``pending``, no attempt used."""
    return JobResult(source_id=source_id, state=JobState.PENDING, message="not started")
