"""`docbatch processors`: what formats are supported and by which library and version."""

from __future__ import annotations

import typer

from docbatch.cli import console
from docbatch.processors.registry import default_registry
from docbatch.serialization import dumps_pretty


def processors(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List every supported format, its processor and the library version that reads it."""
    rows = default_registry().describe()
    if as_json:
        typer.echo(dumps_pretty([row.__dict__ for row in rows]).decode(), nl=False)
        return
    console.print_processors(rows)
