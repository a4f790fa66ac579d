"""The root typer app and the CLI edge: DocbatchError becomes one line and an exit code."""

from __future__ import annotations

import sys

import typer

from docbatch import __version__
from docbatch.cli import (
    logs,
    processors_cmd,
    prune_cmd,
    report_cmd,
    retry_cmd,
    run_cmd,
    serve_cmd,
    status_cmd,
    worker_cmd,
)
from docbatch.errors import DocbatchError, ExitCode

app = typer.Typer(
    name="docbatch",
    help="Batch text and metadata extraction for folders of documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("run")(run_cmd.run)
app.command("status")(status_cmd.status)
app.command("retry-failed")(retry_cmd.retry_failed)
app.command("report")(report_cmd.report)
app.command("prune")(prune_cmd.prune)
app.command("processors")(processors_cmd.processors)
app.command("worker")(worker_cmd.worker)
app.command("serve")(serve_cmd.serve)


def _version(value: bool) -> None:
    if value:
        print(f"docbatch {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Batch text and metadata extraction for folders of documents."""


def main() -> None:
    try:
        from docbatch.cli.settings import load_defaults

        config_file = load_defaults(app, sys.argv[1:])
        # The file's values are the commands' defaults; the file itself names their origin in errors.
        app(standalone_mode=True, default_map=config_file.defaults, obj=config_file)
    except DocbatchError as error:
        logs.fatal(str(error), int(error.exit_code))
        sys.exit(int(error.exit_code))
    except KeyboardInterrupt:
        logs.fatal("interrupted", int(ExitCode.CANCELLED), label="")
        sys.exit(int(ExitCode.CANCELLED))
