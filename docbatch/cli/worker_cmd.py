"""`docbatch worker URL`: serve batches from a broker until SIGTERM (drain) or a second signal (kill).

Exit codes: 0 drained and stopped; 2 a malformed URL, a missing client extra, or a broker that
cannot be reached at start (one line naming the broker and why); 130 a second signal (running jobs
killed; the broker delivers what this worker held again). A broker lost once serving is waited for:
the worker reconnects every 2 s (5 is kept for a broker lost in a way it cannot recover from).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import typer

from docbatch.cli import logs
from docbatch.config import default_concurrency
from docbatch.errors import BrokerUnavailable, ConfigError, ExitCode
from docbatch.units import parse_size

_log = logging.getLogger("docbatch")


def worker(
    url: str = typer.Argument(
        ..., metavar="URL", help="redis://HOST:PORT/DB, amqp://USER:PASS@HOST/VHOST or sqs://QUEUE."
    ),
    concurrency: int = typer.Option(
        None, "-j", "--concurrency", envvar="DOCBATCH_CONCURRENCY", help="Slots: batches at once [default: CPUs]."
    ),
    memory_per_job: str = typer.Option(
        None, "--memory-per-job", metavar="SIZE", help="Address-space cap per job when the run sets none (e.g. 2GB)."
    ),
    allow_exec: bool = typer.Option(False, "--allow-exec", help="Run jobs of runs that use --exec (shell commands)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Errors only."),
    log_format: logs.LogFormat = typer.Option(logs.LogFormat.TEXT, "--log-format", help="Log lines as text or json."),
) -> None:
    """Take batches from a broker and run them, for runs started with --executor URL."""
    from docbatch.executors.broker_worker import WorkerOptions

    logs.use_format(log_format, quiet=quiet)
    logs.configure(quiet=quiet, live=False, log_file=None, log_format=log_format)
    if url.strip().lower().startswith("memory:"):
        raise ConfigError(
            "memory:// is a broker inside one process (tests); a worker needs redis://, amqp:// or sqs://"
        )
    slots = default_concurrency() if concurrency is None else concurrency
    if not 1 <= slots <= 512:
        raise ConfigError(f"-j/--concurrency must be from 1 to 512, not {slots}")
    try:
        cap = parse_size(memory_per_job) if memory_per_job else None
    except ConfigError as error:
        raise ConfigError(f"--memory-per-job: {error}") from None
    options = WorkerOptions(concurrency=slots, memory_per_job_bytes=cap, allow_exec=allow_exec)
    raise typer.Exit(asyncio.run(_serve(url, options)))


async def _serve(url: str, options: object) -> int:
    from docbatch.app.worker import start_worker
    from docbatch.executors.broker_worker import WorkerOptions

    assert isinstance(options, WorkerOptions)
    handle = await start_worker(url, options)  # BrokerUnavailable / ConfigError: exit 2 at the edge
    killed = False

    def on_signal(signum: signal.Signals) -> None:
        nonlocal killed
        if not handle.draining:
            _log.warning("worker: %s received: finishing the current jobs, handing the rest back", signum.name)
            handle.drain()
            return
        _log.warning("worker: %s received again: killing the running jobs", signum.name)
        killed = True
        handle.kill_now()
        serving.cancel()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, on_signal, signum)
    serving = asyncio.create_task(handle.serve())
    try:
        await serving
    except asyncio.CancelledError:
        if not killed:
            raise
    except BrokerUnavailable as error:
        logs.fatal(f"worker: lost the broker: {error}", int(ExitCode.ENVIRONMENT))
        return int(ExitCode.ENVIRONMENT)
    if killed:
        return int(ExitCode.CANCELLED)
    _log.info("worker: drained and stopped")
    return int(ExitCode.OK)
