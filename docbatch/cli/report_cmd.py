"""`docbatch report [RUN] --html`: the run's report as a self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import typer

from docbatch.errors import ConfigError


def report(
    run: str = typer.Argument(None, help="Run id or a prefix of one [default: the latest run]."),
    html: bool = typer.Option(False, "--html", help="Write an HTML page next to report.json."),
    output: Path = typer.Option(None, "-o", "--output", help="Where to write the HTML [default: report.html]."),
    state: Path = typer.Option(Path(".docbatch"), "--state", envvar="DOCBATCH_STATE", help="Folder of the ledger."),
) -> None:
    """Show where a run's report is, or render it as HTML (opens offline)."""
    from docbatch.checkpoint.reader import LedgerReader, find_run
    from docbatch.report.html import render_html
    from docbatch.report.model import RunReport

    reader = LedgerReader.open(state)
    try:
        row = find_run(reader, run)
    finally:
        reader.close()
    if row.report_path is None or not Path(row.report_path).is_file():
        raise ConfigError(f"run {row.run_id} has no report on disk (still running, or its output folder moved)")
    report_path = Path(row.report_path)
    if not html:
        typer.echo(str(report_path))
        return
    loaded = RunReport.model_validate_json(report_path.read_bytes())
    if loaded.run_id != row.run_id:
        raise ConfigError(f"{report_path} now holds run {loaded.run_id}; the report of {row.run_id} was replaced")
    target = output or report_path.with_suffix(".html")
    target.write_text(render_html(loaded), encoding="utf-8")
    typer.echo(str(target))
