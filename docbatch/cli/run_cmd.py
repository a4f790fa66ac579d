"""`docbatch run PATH...`: the whole batch, with a live view on a terminal and plain lines in cron."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

if TYPE_CHECKING:
    from docbatch.engine.runner import RunOutcome

from docbatch.cli import console
from docbatch.config import (
    OutputConfig,
    OutputFormat,
    PoolConfig,
    RunConfig,
    SourceConfig,
    default_concurrency,
    parse_duration,
    parse_size,
)
from docbatch.engine.progress import RunProgress
from docbatch.errors import ConfigError
from docbatch.processors.registry import load_custom_processor

_FLAG_NAMES = {
    "concurrency": "-j/--concurrency",
    "timeout_s": "--timeout",
    "max_jobs_per_worker": "--max-jobs-per-worker",
    "max_file_size_bytes": "--max-file-size",
    "paths": "PATH",
    "manifests": "--manifest",
}


def _validation_message(error: ValidationError) -> str:
    """Pydantic's errors as one line, named by the flag the user typed: `--flag: problem; ...`."""
    parts = []
    for item in error.errors():
        field = str(item["loc"][-1]) if item["loc"] else "value"
        parts.append(f"{_FLAG_NAMES.get(field, field)}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def build_config(
    paths: list[Path],
    manifest: list[Path],
    include: list[str],
    exclude: list[str],
    output: Path,
    fmt: OutputFormat,
    concurrency: int | None,
    timeout: str,
    state: Path,
    max_file_size: str | None,
    max_jobs_per_worker: int,
    processor: str | None,
) -> RunConfig:
    if not paths and not manifest:
        raise ConfigError("nothing to process: give one or more PATHs or --manifest FILE")
    if processor:
        # Fail before the batch, not once per document inside the workers.
        load_custom_processor(processor)
    try:
        return RunConfig(
            sources=SourceConfig(paths=paths, manifests=manifest, include=include, exclude=exclude),
            pool=PoolConfig(
                concurrency=default_concurrency() if concurrency is None else concurrency,
                timeout_s=parse_duration(timeout),
                max_jobs_per_worker=max_jobs_per_worker,
            ),
            output=OutputConfig(root=output, format=fmt),
            state_dir=state,
            max_file_size_bytes=parse_size(max_file_size) if max_file_size else None,
            processor_override=processor,
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
        None,
        "-j",
        "--concurrency",
        envvar="DOCBATCH_CONCURRENCY",
        help="Parallel jobs [default: number of CPUs].",
    ),
    timeout: str = typer.Option(
        "120s",
        "--timeout",
        envvar="DOCBATCH_TIMEOUT",
        help="Per-document time limit (90, 90s, 5m, 2h); the worker is killed when it passes.",
    ),
    include: list[str] = typer.Option([], "--include", help="Only files matching this glob (repeatable)."),
    exclude: list[str] = typer.Option(
        [], "--exclude", help="Leave out files and folders matching this glob (repeatable)."
    ),
    manifest: list[Path] = typer.Option(
        [],
        "--manifest",
        help="Documents listed in a .txt (a path a line), .csv (path,id,priority,options) or .jsonl file.",
    ),
    state: Path = typer.Option(
        Path(".docbatch"), "--state", envvar="DOCBATCH_STATE", help="Folder holding the ledger."
    ),
    max_file_size: str = typer.Option(
        None, "--max-file-size", help="Documents larger than this fail as too_large (e.g. 200MB)."
    ),
    max_jobs_per_worker: int = typer.Option(
        500, "--max-jobs-per-worker", help="Recycle a worker process after this many documents (0: never)."
    ),
    processor: str = typer.Option(
        None,
        "--processor",
        help="Use package.module:function for every document instead of the built-in processors.",
    ),
    quiet: bool = typer.Option(
        False, "-q", "--quiet", help="No progress and no summary; errors and the exit code only."
    ),
) -> None:
    """Extract text and metadata from every document under PATHs into one output per document."""
    config = build_config(
        paths or [],
        manifest,
        include,
        exclude,
        output,
        fmt,
        concurrency,
        timeout,
        state,
        max_file_size,
        max_jobs_per_worker,
        processor,
    )
    outcome = asyncio.run(_run_with_view(config, quiet))
    if not quiet:
        console.print_summary(outcome.report, outcome.report_path)
    raise typer.Exit(int(outcome.exit_code))


async def _run_with_view(config: RunConfig, quiet: bool) -> RunOutcome:
    # Imported here so that `docbatch --help` does not load the engine and the process pool.
    from docbatch.engine.runner import run_batch

    progress = RunProgress()
    view = None if quiet else console.start_progress_view(progress)
    try:
        return await run_batch(config, progress=progress)
    finally:
        if view is not None:
            await view.stop()
