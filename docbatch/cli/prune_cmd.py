"""`docbatch prune --older-than 30d`: drop old runs' history from the ledger (and their own reports),
never a document's current state or output, never what a kept run still needs."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from docbatch.cli import settings
from docbatch.config import parse_duration
from docbatch.errors import ConfigError


def prune(
    ctx: typer.Context,
    older_than: str = typer.Option(..., "--older-than", help="Remove runs that ended more than this long ago (30d)."),
    state: Path = typer.Option(Path(".docbatch"), "--state", envvar="DOCBATCH_STATE", help="Folder of the ledger."),
) -> None:
    """Remove finished runs, their job events and their own reports; the latest run, the runs it
    retried, documents' current state and outputs stay."""
    from docbatch.checkpoint.pruning import plan_prune
    from docbatch.checkpoint.reader import LedgerReader
    from docbatch.checkpoint.sqlite import SqliteLedger
    from docbatch.outputs.reports import remove_run_report

    try:
        cutoff = time.time() - parse_duration(older_than)
    except ConfigError as error:
        raise settings.refuse(ctx, "older_than", error, older_than) from None
    if not state.is_dir():  # never create a state folder just to find nothing in it
        raise ConfigError(f"--state {state}: no such folder, nothing to prune")
    reader = LedgerReader.open(state)
    try:
        plan = plan_prune(reader, cutoff)
    finally:
        reader.close()
    ledger = SqliteLedger.open(state)
    try:
        runs, events = ledger.prune(cutoff, keep=plan.keep)
    finally:
        ledger.close()
    reports = sum(remove_run_report(row.run_id, row.report_path) for row in plan.drop)
    kept = f"; kept {len(plan.keep)} older runs still needed (the latest run, and runs that kept retries retried)"
    typer.echo(
        f"removed {runs} runs, {events} job events and {reports} report files that ended before "
        f"{time.ctime(cutoff)}" + (kept if plan.keep else "")
    )
