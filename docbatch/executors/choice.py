"""Which executor a run uses: `--executor local | dask://HOST:PORT | dask-local[:N]`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from docbatch.errors import ConfigError

if TYPE_CHECKING:
    from docbatch.config import RunConfig
    from docbatch.executors.base import Executor


def parse_executor(text: str) -> tuple[str, str | None, int | None]:
    """'local' | 'dask://host:port' | 'dask-local[:N]' -> (kind, address, workers)."""
    text = text.strip()
    if text == "local":
        return "local", None, None
    if text.startswith(("dask://", "tcp://")):
        address = "tcp://" + text.split("://", 1)[1]
        if ":" not in address.removeprefix("tcp://"):
            raise ConfigError(f"--executor {text!r}: give the scheduler's port, e.g. dask://scheduler:8786")
        return "dask", address, None
    if text == "dask-local" or text.startswith("dask-local:"):
        count = text.partition(":")[2]
        if count and (not count.isdigit() or int(count) < 1):
            raise ConfigError(f"--executor {text!r}: dask-local:N needs a worker count of 1 or more")
        return "dask-local", None, int(count) if count else None
    raise ConfigError(f"--executor {text!r}: use local, dask://HOST:PORT or dask-local[:N]")


def build_executor(config: RunConfig) -> Executor:
    kind, address, workers = parse_executor(config.executor)
    if kind == "local":
        from docbatch.executors.local import LocalExecutor

        return LocalExecutor(config.pool.concurrency, config.pool.max_jobs_per_worker)
    from docbatch.executors.dask import DaskExecutor

    local_workers = (workers or config.pool.concurrency) if kind == "dask-local" else None
    return DaskExecutor(
        address,
        local_workers=local_workers,
        memory_per_job_bytes=config.memory_per_job_bytes,
        slots=local_workers or config.pool.concurrency,
    )
