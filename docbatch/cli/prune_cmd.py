"""`docbatch prune --older-than 30d`: drop old runs' history from the ledger, never any output."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from docbatch.config import parse_duration


def prune(
    older_than: str = typer.Option(..., "--older-than", help="Remove runs that ended more than this long ago (30d)."),
    state: Path = typer.Option(Path(".docbatch"), "--state", envvar="DOCBATCH_STATE", help="Folder of the ledger."),
) -> None:
    """Remove finished runs and their job events from the ledger; documents' current state and outputs stay."""
    from docbatch.checkpoint.sqlite import SqliteLedger

    cutoff = time.time() - parse_duration(older_than)
    ledger = SqliteLedger.open(state)
    try:
        runs, events = ledger.prune(cutoff)
    finally:
        ledger.close()
    typer.echo(f"removed {runs} runs and {events} job events that ended before {time.ctime(cutoff)}")
