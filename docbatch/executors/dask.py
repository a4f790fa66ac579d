"""Dask executor: the same run on a Dask cluster (`--executor dask://HOST:PORT` or `dask-local[:N]`).

Dask is the engine: its scheduler places the tasks, its workers run them, and its deployment projects
(dask-kubernetes, dask-jobqueue) bring the machines. docbatch keeps everything else on the
coordinator: discovery, priorities, the ledger, the outputs and the report. Workers read the inputs
by path (so the inputs must be on a filesystem every worker sees at the same path) and send the
extractions back; the coordinator writes the outputs.

Each batch is one Dask task; a slot waits for its task, so the tasks in flight stay bounded (one per
worker thread) and priorities keep their meaning. Inside the task every job runs in a supervised child
process with its own deadline (dask_worker.py). Dask retries nothing itself here: a task lost with its
worker comes back as KilledWorker or a lost connection and its jobs fail as `crash`, to be retried by
docbatch like any other crash. A scheduler that goes away ends the run as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from docbatch.errors import ConfigError, ExecutorLost
from docbatch.executors.base import JobControl, OutputTarget, StageListener, not_started, with_absolute_paths
from docbatch.models import ErrorKind, JobBatch, JobResult, JobSpec, JobState

CONNECT_TIMEOUT_S = 30
_log = logging.getLogger("docbatch")


def dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


class DaskExecutor:
    """Runs batches as Dask tasks on an existing cluster or on a LocalCluster it starts and stops."""

    # The coordinator writes the outputs from the extractions the tasks send back.
    writes_outputs = False

    def __init__(
        self,
        address: str | None = None,
        *,
        local_workers: int | None = None,
        memory_per_job_bytes: int | None = None,
        worker_memory_bytes: int | None = None,
        slots: int | None = None,
    ) -> None:
        if not dask_available():
            raise ConfigError("--executor dask needs the dask extra: pip install 'docbatch[dask]'")
        self.address = address
        self.local_workers = local_workers
        self.memory_per_job_bytes = memory_per_job_bytes
        self.worker_memory_bytes = worker_memory_bytes
        self.name = f"dask {address}" if address else f"dask-local:{local_workers or 'auto'}"
        # Tasks in flight: one per worker thread of a LocalCluster; for a cluster, -j (set it to the
        # cluster's thread count). A Dask task costs about 2 ms, so batches carry ~0.2 s of work.
        self.slots = slots or local_workers or 1
        self.batch_target_s = 0.2
        self.stage_listener: StageListener | None = None
        self._stopping = False
        self._client: Any = None
        self._cluster: Any = None

    async def start(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        # docbatch counts attempts itself; a worker lost mid-task fails that task at once (KilledWorker).
        dask.config.set({"distributed.scheduler.allowed-failures": 0})
        if self.address is None:
            self._cluster = await LocalCluster(
                n_workers=self.local_workers,
                threads_per_worker=1,
                processes=True,
                asynchronous=True,
                dashboard_address=":0",
                memory_limit=self.worker_memory_bytes or "auto",
                silence_logs=logging.ERROR,
            )
            address = self._cluster.scheduler_address
        else:
            address = self.address
        try:
            self._client = await asyncio.wait_for(
                Client(address, asynchronous=True, set_as_default=False),
                CONNECT_TIMEOUT_S,
            )
        except (OSError, TimeoutError) as error:
            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {error}") from error
        workers = await self._client.run(lambda: None)  # fails fast when a worker is misconfigured
        _log.info("dask: %d workers at %s, dashboard %s", len(workers), address, self._client.dashboard_link)

    @property
    def job_control(self) -> JobControl | None:
        """None: the jobs run on the Dask workers' machines, each under its own memory cap there."""
        return None

    def stop_admitting(self) -> None:
        """Batches not yet submitted come back pending; a submitted task runs to its end."""
        self._stopping = True

    def describe(self) -> dict[str, object]:
        """For `docbatch status`: the scheduler, how many workers it has now, and the dashboard."""
        if self._client is None:
            return {"executor": self.name}
        info = self._client.scheduler_info()
        return {
            "executor": self.name,
            "scheduler": info.get("address"),
            # Recent distributed lists only a few workers in this cached view, but always counts them.
            "workers": info.get("n_workers", len(info.get("workers", {}))),
            "threads": info.get("total_threads"),
            "dashboard": self._client.dashboard_link,
        }

    async def run_batch(self, specs: list[JobSpec], timeout_s: float, *, output: OutputTarget) -> list[JobResult]:
        """One Dask task per batch; the outputs are written by the coordinator (only ``output.format``
        is used: it says whether the processors render Markdown)."""
        from distributed import KilledWorker

        from docbatch.executors.dask_worker import run_on_dask_worker

        if self._stopping:  # the run is stopping: this batch is not submitted, its jobs stay to do
            return [not_started(spec.source_id) for spec in specs]
        if self._client is None:
            raise RuntimeError("DaskExecutor.run_batch called before start()")
        # The coordinator writes the outputs; the format still tells the workers whether Markdown is needed.
        batch = JobBatch(specs=with_absolute_paths(specs), output_format=output.format)
        if self.stage_listener is not None:
            for spec in specs:
                self.stage_listener(spec.source_id, "running")
        if self._client.status != "running":
            raise ExecutorLost(f"lost the Dask scheduler (client {self._client.status})")
        future = self._client.submit(
            run_on_dask_worker, batch, timeout_s, self.memory_per_job_bytes, pure=False, retries=0
        )
        try:
            results: list[JobResult] = await future
            return results
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await future.cancel()
            raise
        except KilledWorker as error:
            message = f"its Dask worker died ({error})"
            return [_failure(spec, ErrorKind.CRASH, message) for spec in specs]
        except Exception as error:
            if self._client.status != "running":
                # Reconnecting or closed: the scheduler went away. Even if it comes back, its tasks
                # are gone; the run stops as interrupted and resumes from the ledger.
                raise ExecutorLost(f"lost the Dask scheduler: {type(error).__name__}: {error}") from error
            message = f"the Dask task failed: {type(error).__name__}: {error}"
            return [_failure(spec, ErrorKind.CRASH, message) for spec in specs]

    async def close(self, *, cancel: bool = False) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
            self._client = None
        if self._cluster is not None:
            with contextlib.suppress(Exception):
                await self._cluster.close()
            self._cluster = None


def _failure(spec: JobSpec, kind: ErrorKind, message: str) -> JobResult:
    return JobResult(source_id=spec.source_id, state=JobState.FAILED, error_kind=kind, message=message)
