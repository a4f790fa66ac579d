"""`docbatch run PATH...`: the whole batch, with a live view on a terminal and plain lines in cron.

The run's options are generated from the configuration's fields (cli/run_options.py); the options
of this edge (logging, notifications) are declared here. Flags -> RunConfig -> app.runs -> console.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from docbatch.cli import console, logs, settings
from docbatch.cli.run_options import RunOption, build_config, run_options, typer_parameters
from docbatch.config import RunConfig
from docbatch.errors import ConfigError

if TYPE_CHECKING:
    from docbatch.app.runs import RunOutcome

_OPTIONS = list(run_options())


def run(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress and no summary; errors and exit code only."),
    log_file: Path = typer.Option(None, "--log-file", envvar="DOCBATCH_LOG_FILE", help="Also write the log here."),
    log_format: logs.LogFormat = typer.Option(logs.LogFormat.TEXT, "--log-format", help="Log lines as text or json."),
    notify: str = typer.Option(None, "--notify", envvar="DOCBATCH_NOTIFY", help="POST the run summary to this URL."),
    on_complete: str = typer.Option(None, "--on-complete", help="Run this command with the report path at the end."),
    **values: Any,
) -> None:
    """Extract text and metadata from every document under PATHs into one output per document."""
    logs.use_format(log_format, quiet=quiet)  # an error in the flags is told in the form asked for
    config = configure(ctx, values)
    if notify:
        from docbatch.app.notify import check_url

        check_url(notify)  # a malformed URL is a usage error before the batch, not a lost notification
    outcome = execute(config, quiet=quiet, log_file=log_file, log_format=log_format)
    from docbatch.app.notify import announce

    announce(outcome, notify_url=notify, on_complete=on_complete)
    raise typer.Exit(int(outcome.exit_code))


def _with_run_options(command: Any) -> Any:
    """``command`` with the configuration's options in its signature, where typer finds its parameters."""
    signature = inspect.signature(command, eval_str=True)
    context, *edge = [
        parameter for parameter in signature.parameters.values() if parameter.kind is not parameter.VAR_KEYWORD
    ]
    # The run's own options first in --help, then this edge's (logging, notifications).
    edge = [parameter.replace(kind=parameter.KEYWORD_ONLY) for parameter in edge]
    command.__signature__ = signature.replace(parameters=[context, *typer_parameters(_OPTIONS), *edge])
    return command


run = _with_run_options(run)


def configure(ctx: typer.Context, values: dict[str, Any]) -> RunConfig:
    """The run configuration from the options' values, parsed once; ConfigError (exit 2) names the
    origin of each bad value. Processors and plugins load here too: a missing one fails before the batch."""
    if not values.get("path") and not values.get("manifest"):
        raise ConfigError("nothing to process: give one or more PATHs or --manifest FILE")

    def origin(option: RunOption, value: object) -> str:
        return settings.origin_of(ctx, option.name, value)

    config = build_config(_OPTIONS, values, origin, command=["docbatch", *sys.argv[1:]])
    from docbatch.app.runs import check_processors

    check_processors(config)
    return config


def execute(config: RunConfig, *, quiet: bool, log_file: Path | None, log_format: logs.LogFormat) -> RunOutcome:
    """Run a batch with the log, progress view and summary of the CLI."""
    live = logs.wants_live_view(quiet=quiet, log_format=log_format)
    logs.configure(quiet=quiet, live=live, log_file=log_file, log_format=log_format)
    outcome = asyncio.run(_run_with_view(config, live=live))
    shown = outcome.report_path if outcome.report_written else None
    logs.summary(outcome.report, shown)  # in JSON mode, also the summary line on stdout
    if not quiet and log_format is logs.LogFormat.TEXT:
        console.print_summary(outcome.report, shown)
    if outcome.environment_failure:
        # The one line the operator needs, shown even with -q: what failed, where, and that it resumes.
        logs.fatal(outcome.environment_failure, int(outcome.exit_code), label="")
    return outcome


async def _run_with_view(config: RunConfig, *, live: bool) -> RunOutcome:
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
