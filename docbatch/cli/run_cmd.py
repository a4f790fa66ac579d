"""`docbatch run PATH...`: the whole batch, with a live view on a terminal and plain lines in cron."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

from docbatch.cli import console, logs
from docbatch.config import (
    FailureBudget,
    OutputConfig,
    OutputFormat,
    PoolConfig,
    QueueOrder,
    RunConfig,
    SourceConfig,
    default_concurrency,
    parse_duration,
    parse_size,
)
from docbatch.errors import ConfigError
from docbatch.processors.registry import default_registry, load_custom_processor

if TYPE_CHECKING:
    from docbatch.app.runs import RunOutcome

_FLAG_NAMES = {
    "concurrency": "-j/--concurrency",
    "timeout_s": "--timeout",
    "max_jobs_per_worker": "--max-jobs-per-worker",
    "max_file_size_bytes": "--max-file-size",
    "grace_s": "--grace",
    "max_runtime_s": "--max-runtime",
    "wait_lock_s": "--wait-lock",
    "retries": "--retries",
    "memory_limit_bytes": "--memory-limit",
    "memory_per_job_bytes": "--memory-per-job",
    "paths": "PATH",
    "manifests": "--manifest",
}


def _validation_message(error: ValidationError) -> str:
    """Pydantic's errors as one line, named by the flag the user typed: `--flag: problem; ...`."""
    parts = []
    for item in error.errors():
        name = str(item["loc"][-1]) if item["loc"] else "value"
        parts.append(f"{_FLAG_NAMES.get(name, name)}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


@dataclass
class RunFlags:
    """The flags of `docbatch run` as typed, before units are parsed and the config validated."""

    paths: list[Path] = field(default_factory=list)
    manifests: list[Path] = field(default_factory=list)
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    output: Path = Path("docbatch-out")
    fmt: OutputFormat = OutputFormat.JSON
    concurrency: int | None = None
    timeout: str = "120s"
    state: Path = Path(".docbatch")
    max_file_size: str | None = None
    max_jobs_per_worker: int = 500
    processor: str | None = None
    grace: str = "30s"
    max_runtime: str | None = None
    max_failures: str | None = None
    wait_lock: str | None = None
    force: bool = False
    retry_dead: bool = False
    verify: bool = False
    parent_run_id: str | None = None
    retries: int = 2
    backoff: str = "1s"
    memory_limit: str | None = None
    memory_per_job: str | None = None
    min_free_memory: str | None = None
    exec_template: str | None = None
    priority: list[str] = field(default_factory=list)
    order: QueueOrder = QueueOrder.DISCOVERY
    executor: str = "local"

    def priority_rules(self) -> list[tuple[str, int]]:
        """`GLOB=LEVEL` rules as (glob, priority); a bad rule is a usage error naming it."""
        from docbatch.discovery.manifest import parse_priority

        rules = []
        for rule in self.priority:
            pattern, separator, level = rule.rpartition("=")
            if not separator or not pattern:
                raise ConfigError(f"--priority {rule!r}: use GLOB=LEVEL, e.g. 'invoices/*=high'")
            try:
                rules.append((pattern, int(parse_priority(level))))
            except ValueError as error:
                raise ConfigError(f"--priority {rule!r}: {error}") from None
        return rules

    def to_config(self) -> RunConfig:
        if not self.paths and not self.manifests:
            raise ConfigError("nothing to process: give one or more PATHs or --manifest FILE")
        # Fail before the batch, not once per document inside the workers: plugins and --processor load here.
        default_registry()
        if self.processor:
            load_custom_processor(self.processor)
        if self.exec_template:
            from docbatch.processors.command import parse_template

            parse_template(self.exec_template)
            if self.processor:
                raise ConfigError("--exec and --processor cannot be used together")
        if self.max_failures:
            FailureBudget.parse(self.max_failures)
        from docbatch.executors.choice import parse_executor

        parse_executor(self.executor)  # a bad --executor is a usage error before anything starts
        try:
            return RunConfig(
                sources=SourceConfig(
                    paths=self.paths, manifests=self.manifests, include=self.include, exclude=self.exclude
                ),
                pool=PoolConfig(
                    concurrency=default_concurrency() if self.concurrency is None else self.concurrency,
                    timeout_s=parse_duration(self.timeout),
                    max_jobs_per_worker=self.max_jobs_per_worker,
                    order=self.order,
                    priority_rules=self.priority_rules(),
                ),
                output=OutputConfig(root=self.output, format=self.fmt),
                state_dir=self.state,
                max_file_size_bytes=parse_size(self.max_file_size) if self.max_file_size else None,
                processor_override=self.processor,
                exec_template=self.exec_template,
                grace_s=0.0 if self.grace.strip() in {"0", "0s"} else parse_duration(self.grace),
                max_runtime_s=parse_duration(self.max_runtime) if self.max_runtime else None,
                max_failures=self.max_failures,
                wait_lock_s=parse_duration(self.wait_lock, allow_zero=True) if self.wait_lock else 0.0,
                force=self.force,
                retry_dead=self.retry_dead,
                verify=self.verify,
                parent_run_id=self.parent_run_id,
                retries=self.retries,
                backoff_s=0.0 if self.backoff.strip() in {"0", "0s"} else parse_duration(self.backoff),
                memory_limit_bytes=parse_size(self.memory_limit) if self.memory_limit else None,
                memory_per_job_bytes=parse_size(self.memory_per_job) if self.memory_per_job else None,
                free_memory_floor_bytes=parse_size(self.min_free_memory) if self.min_free_memory else None,
                executor=self.executor.strip(),
                command=["docbatch", *sys.argv[1:]],
            )
        except ValidationError as error:
            raise ConfigError(_validation_message(error)) from None


def run(
    paths: list[Path] = typer.Argument(
        None, help="Files or folders to process (walked recursively).", show_default=False
    ),
    output: Path = typer.Option(
        Path("docbatch-out"), "-o", "--output", envvar="DOCBATCH_OUTPUT", help="Output folder."
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.JSON, "--format", "-f", help="Output format per document."),
    concurrency: int = typer.Option(
        None, "-j", "--concurrency", envvar="DOCBATCH_CONCURRENCY", help="Parallel jobs [default: number of CPUs]."
    ),
    timeout: str = typer.Option(
        "120s", "--timeout", envvar="DOCBATCH_TIMEOUT", help="Per-document limit (90, 90s, 5m); the worker is killed."
    ),
    include: list[str] = typer.Option([], "--include", help="Only files matching this glob (repeatable)."),
    exclude: list[str] = typer.Option([], "--exclude", help="Leave out files and folders matching this glob."),
    manifest: list[Path] = typer.Option(
        [], "--manifest", help="Documents listed in a .txt (a path a line), .csv (path,id,priority,options) or .jsonl."
    ),
    state: Path = typer.Option(Path(".docbatch"), "--state", envvar="DOCBATCH_STATE", help="Folder of the ledger."),
    max_file_size: str = typer.Option(None, "--max-file-size", help="Larger documents fail as too_large (200MB)."),
    max_jobs_per_worker: int = typer.Option(
        500, "--max-jobs-per-worker", help="Recycle a worker after N hand-overs (a document or a batch of short ones)."
    ),
    processor: str = typer.Option(None, "--processor", help="Use package.module:function for every document."),
    force: bool = typer.Option(False, "--force", help="Process every document, even those already done."),
    retry_dead: bool = typer.Option(False, "--retry-dead", help="Try again documents that died of permanent errors."),
    verify: bool = typer.Option(False, "--verify", help="Compare content hashes, not only size and mtime."),
    grace: str = typer.Option("30s", "--grace", help="After a stop request, how long running jobs may finish."),
    max_runtime: str = typer.Option(None, "--max-runtime", help="Stop admitting documents after this long (2h)."),
    max_failures: str = typer.Option(None, "--max-failures", help="Stop after N failures, or a share (5%)."),
    wait_lock: str = typer.Option(None, "--wait-lock", help="Wait this long for another run's lock (exit 3 after)."),
    retries: int = typer.Option(2, "--retries", help="Extra tries for timeout, crash, memory and I/O failures."),
    backoff: str = typer.Option("1s", "--backoff", help="First wait before a retry; doubles each time (cap 60s)."),
    memory_limit: str = typer.Option(None, "--memory-limit", help="Bound on all workers' memory (4GiB or 50%)."),
    memory_per_job: str = typer.Option(None, "--memory-per-job", help="Kill a job whose processes exceed this."),
    min_free_memory: str = typer.Option(None, "--min-free-memory", help="Pause admission below this free memory."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress and no summary; errors and exit code only."),
    log_file: Path = typer.Option(None, "--log-file", envvar="DOCBATCH_LOG_FILE", help="Also write the log here."),
    log_format: logs.LogFormat = typer.Option(logs.LogFormat.TEXT, "--log-format", help="Log lines as text or json."),
    exec_template: str = typer.Option(
        None, "--exec", help="Run 'CMD {in} {out}' per document (no shell); its output is the text."
    ),
    priority: list[str] = typer.Option([], "--priority", help="GLOB=LEVEL (low|normal|high|critical); repeatable."),
    order: QueueOrder = typer.Option(QueueOrder.DISCOVERY, "--order", help="Order within a priority level."),
    notify: str = typer.Option(None, "--notify", envvar="DOCBATCH_NOTIFY", help="POST the run summary to this URL."),
    on_complete: str = typer.Option(None, "--on-complete", help="Run this command with the report path at the end."),
    executor: str = typer.Option(
        "local",
        "--executor",
        envvar="DOCBATCH_EXECUTOR",
        help="Where jobs run: local, dask://HOST:PORT (a Dask cluster) or dask-local[:N].",
    ),  # fmt: skip
) -> None:
    """Extract text and metadata from every document under PATHs into one output per document."""
    logs.use_format(log_format, quiet=quiet)  # an error in the flags is told in the form asked for
    flags = RunFlags(
        paths=paths or [], manifests=manifest, include=include, exclude=exclude, output=output, fmt=fmt,
        concurrency=concurrency, timeout=timeout, state=state, max_file_size=max_file_size,
        max_jobs_per_worker=max_jobs_per_worker, processor=processor, grace=grace, max_runtime=max_runtime,
        max_failures=max_failures, wait_lock=wait_lock, force=force, retry_dead=retry_dead, verify=verify,
        retries=retries, backoff=backoff, memory_limit=memory_limit, memory_per_job=memory_per_job,
        min_free_memory=min_free_memory, priority=priority, order=order,
        exec_template=exec_template, executor=executor,
    )  # fmt: skip
    config = flags.to_config()
    if notify:
        from docbatch.app.notify import check_url

        check_url(notify)  # a malformed URL is a usage error before the batch, not a lost notification
    outcome = execute(config, quiet=quiet, log_file=log_file, log_format=log_format)
    from docbatch.app.notify import announce

    announce(outcome, notify_url=notify, on_complete=on_complete)
    raise typer.Exit(int(outcome.exit_code))


def execute(config: RunConfig, *, quiet: bool, log_file: Path | None, log_format: logs.LogFormat) -> RunOutcome:
    """Run a batch with the log, progress view and summary of the CLI."""
    live = logs.wants_live_view(quiet=quiet, log_format=log_format)
    logs.configure(quiet=quiet, live=live, log_file=log_file, log_format=log_format)
    outcome = asyncio.run(_run_with_view(config, quiet=quiet, live=live))
    shown = outcome.report_path if outcome.report_written else None
    logs.summary(outcome.report, shown)  # in JSON mode, also the summary line on stdout
    if not quiet and log_format is logs.LogFormat.TEXT:
        console.print_summary(outcome.report, shown)
    if outcome.environment_failure:
        # The one line the operator needs, shown even with -q: what failed, where, and that it resumes.
        logs.fatal(outcome.environment_failure, int(outcome.exit_code), label="")
    return outcome


async def _run_with_view(config: RunConfig, *, quiet: bool, live: bool) -> RunOutcome:
    """Start the run, show its progress (live view or periodic log lines) and wait for it; the first
    SIGINT/SIGTERM stops it, a second cancels it."""
    # Imported here so that `docbatch --help` does not load the engine and the process pool.
    from docbatch.app.runs import start_run
    from docbatch.cli.signals import wait_with_signals

    handle = start_run(config)
    ticker = logs.ProgressTicker(handle.progress)
    view = console.start_live_view(handle.progress) if live else None
    ticker.start()
    try:
        return await wait_with_signals(handle)
    finally:
        await ticker.stop()
        if view is not None:
            await view.stop()
