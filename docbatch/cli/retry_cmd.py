"""`docbatch retry-failed [RUN]`: run again only the failed and dead documents of a run, as a new run
linked to it, with the old run's output folder, format and processor."""

from __future__ import annotations

from pathlib import Path

import typer

from docbatch.cli import logs, settings
from docbatch.cli.run_cmd import execute
from docbatch.config import parse_duration
from docbatch.errors import ConfigError


def retry_failed(
    ctx: typer.Context,
    run: str = typer.Argument(None, help="Run id or a prefix of one [default: the latest run]."),
    kind: list[str] = typer.Option([], "--kind", help="Only these error kinds: timeout, memory, corrupt, ..."),
    path: list[str] = typer.Option([], "--path", help="Only documents whose id or path matches this glob."),
    state: Path = typer.Option(Path(".docbatch"), "--state", envvar="DOCBATCH_STATE", help="Folder of the ledger."),
    concurrency: int = typer.Option(None, "-j", "--concurrency", help="Parallel jobs [default: as the old run]."),
    timeout: str = typer.Option(None, "--timeout", help="Per-document limit [default: as the old run]."),
    priority: str = typer.Option(
        None,
        "--priority",
        help="Run the retried documents at this level: low, normal, high, critical [default: the priority each had].",
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress and no summary."),
    log_file: Path = typer.Option(None, "--log-file", envvar="DOCBATCH_LOG_FILE", help="Also write the log here."),
    log_format: logs.LogFormat = typer.Option(logs.LogFormat.TEXT, "--log-format", help="Log lines as text or json."),
) -> None:
    """Re-run only the failed and dead documents of a run (the latest by default)."""
    from docbatch.app.retry import RetryRequest, plan_retry
    from docbatch.discovery.manifest import parse_priority

    live = logs.wants_live_view(quiet=quiet, log_format=log_format)
    logs.configure(quiet=quiet, live=live, log_file=log_file, log_format=log_format)
    try:
        level = parse_priority(priority) if priority is not None else None
    except ValueError as error:
        raise ConfigError(f"--priority: {error}") from None
    request = RetryRequest(
        state_dir=state, run=run, kinds=kind, paths=path, priority=level, concurrency=concurrency,
        timeout_s=_seconds(ctx, "timeout", timeout),
    )  # fmt: skip
    plan = plan_retry(request)
    if plan.config is None:
        logs.result_line(
            f"nothing to retry: run {plan.parent_run_id} has no failed or dead documents matching the filters",
            event="retry_plan", parent_run_id=plan.parent_run_id, retrying=0, failed=plan.failed,
        )  # fmt: skip
        raise typer.Exit(0)
    logs.result_line(
        f"retrying {plan.chosen} of {plan.failed} failed documents of run {plan.parent_run_id}",
        event="retry_plan", parent_run_id=plan.parent_run_id, retrying=plan.chosen, failed=plan.failed,
    )  # fmt: skip
    outcome = execute(plan.config, quiet=quiet, log_file=log_file, log_format=log_format)
    counts = outcome.report.counts
    still_failing = counts.failed + counts.dead
    kinds = ", ".join(f"{kind} {count}" for kind, count in outcome.report.error_kinds.items())
    logs.result_line(
        f"retry of {plan.parent_run_id}: {counts.succeeded} of {plan.chosen} now succeed, "
        f"{still_failing} still fail" + (f" ({kinds})" if kinds else ""),
        event="retry_result", parent_run_id=plan.parent_run_id, run_id=outcome.report.run_id, retried=plan.chosen,
        succeeded=counts.succeeded, still_failing=still_failing, error_kinds=outcome.report.error_kinds,
    )  # fmt: skip
    raise typer.Exit(int(outcome.exit_code))


def _seconds(ctx: typer.Context, name: str, text: str | None) -> float | None:
    """The duration option ``name`` in seconds (None when not given); ConfigError naming its origin."""
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ConfigError as error:
        raise settings.refuse(ctx, name, error, text) from None
