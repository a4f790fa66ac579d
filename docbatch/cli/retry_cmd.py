"""`docbatch retry-failed [RUN]`: run again only the failed and dead documents of a run, as a new run
linked to it, with the old run's output folder, format and processor."""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

from docbatch.cli import logs
from docbatch.cli.run_cmd import execute
from docbatch.config import RunConfig, SourceConfig, default_concurrency, parse_duration
from docbatch.errors import ConfigError, EnvironmentFailed, usable_folder_problem
from docbatch.models import ErrorKind, Priority
from docbatch.serialization import dumps_compact

if TYPE_CHECKING:
    from docbatch.checkpoint.reader import DocumentRow, RunRow

RETRY_MANIFEST = "retry-{run_id}.jsonl"


def retry_failed(
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
    from docbatch.checkpoint.lock import StateLock
    from docbatch.checkpoint.reader import LedgerReader, failed_documents, find_run
    from docbatch.discovery.manifest import parse_priority

    live = logs.wants_live_view(quiet=quiet, log_format=log_format)
    logs.configure(quiet=quiet, live=live, log_file=log_file, log_format=log_format)
    try:
        level = parse_priority(priority) if priority is not None else None
    except ValueError as error:
        raise ConfigError(f"--priority: {error}") from None
    unknown = sorted(set(kind) - {member.value for member in ErrorKind})
    if unknown:
        raise ConfigError(f"--kind: unknown error kind {', '.join(unknown)} (one of {', '.join(ErrorKind)})")
    # A live run is not the run to retry (its dead documents are not final yet), and its retry could
    # not start anyway: exit 3 naming it, as a second run would.
    StateLock(state).check_free()
    reader = LedgerReader.open(state)
    try:
        old = find_run(reader, run)
        candidates = failed_documents(reader, old.run_id)
    finally:
        reader.close()
    chosen = [
        row
        for row in candidates
        if (not kind or row.error_kind in kind)
        and (not path or any(fnmatch.fnmatchcase(row.source_id, g) or fnmatch.fnmatchcase(row.path or "", g)
                             for g in path))
    ]  # fmt: skip
    if not chosen:
        logs.result_line(
            f"nothing to retry: run {old.run_id} has no failed or dead documents matching the filters",
            event="retry_plan", parent_run_id=old.run_id, retrying=0, failed=len(candidates),
        )  # fmt: skip
        raise typer.Exit(0)
    base = _repeatable_config(old, state)
    manifest = state / RETRY_MANIFEST.format(run_id=old.run_id)
    _write_manifest(manifest, chosen, level)
    config = _retry_config(base, old.run_id, manifest, state, concurrency=concurrency, timeout=timeout)
    logs.result_line(
        f"retrying {len(chosen)} of {len(candidates)} failed documents of run {old.run_id}",
        event="retry_plan", parent_run_id=old.run_id, retrying=len(chosen), failed=len(candidates),
    )  # fmt: skip
    outcome = execute(config, quiet=quiet, log_file=log_file, log_format=log_format)
    counts = outcome.report.counts
    kinds = ", ".join(f"{kind} {count}" for kind, count in outcome.report.error_kinds.items())
    logs.result_line(
        f"retry of {old.run_id}: {counts.succeeded} of {len(chosen)} now succeed, "
        f"{counts.failed + counts.dead} still fail" + (f" ({kinds})" if kinds else ""),
        event="retry_result", parent_run_id=old.run_id, run_id=outcome.report.run_id, retried=len(chosen),
        succeeded=counts.succeeded, still_failing=counts.failed + counts.dead, error_kinds=outcome.report.error_kinds,
    )  # fmt: skip
    raise typer.Exit(int(outcome.exit_code))


def _repeatable_config(old: RunRow, state: Path) -> RunConfig:
    """The old run's configuration, if a retry of it can start; ConfigError (exit 2) otherwise."""
    if old.config_json is None:
        raise ConfigError(f"run {old.run_id} recorded no configuration to repeat")
    try:
        recorded = json.loads(old.config_json)
        # The retry reads its own list of documents: the old run's folders and manifests (relative in
        # ledgers written before paths were recorded absolute, or gone since) need not exist.
        sources = recorded.get("sources") or {}
        recorded["sources"] = {**sources, "paths": [], "manifests": []}
        base = RunConfig.model_validate(recorded)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"run {old.run_id}: cannot repeat its recorded configuration: {where}: {first['msg']}"
        ) from None
    except (ValueError, AttributeError) as error:  # not JSON, or JSON of another shape
        raise ConfigError(f"run {old.run_id}: cannot repeat its recorded configuration: {error}") from None
    if not base.output.root.is_absolute() and not _same_folder(base.state_dir, state):
        # A ledger written before paths were recorded absolute: its paths are relative to the folder
        # that run was started from, which is not this one (its state folder is not found from here).
        raise ConfigError(
            f"run {old.run_id} recorded relative paths (output {base.output.root}): "
            "run retry-failed from the folder that run was started in"
        )
    if base.exec_template:  # the program may have gone since: say so once, not once per document
        from docbatch.processors.command import parse_template

        parse_template(base.exec_template)
    return base


def _same_folder(recorded: Path, state: Path) -> bool:
    try:
        return os.path.samefile(recorded, state)
    except OSError:
        return False


def _retry_config(
    base: RunConfig, parent: str, manifest: Path, state: Path, *, concurrency: int | None, timeout: str | None
) -> RunConfig:
    """``base`` for the documents in ``manifest``, linked to the run ``parent`` it retries."""
    pool = base.pool.model_copy(
        update={
            "concurrency": concurrency or base.pool.concurrency or default_concurrency(),
            "timeout_s": parse_duration(timeout) if timeout else base.pool.timeout_s,
        }
    )
    return base.model_copy(
        update={
            "sources": SourceConfig(manifests=[manifest]),
            "pool": pool,
            "state_dir": state,
            "retry_dead": True,
            "force": True,
            "parent_run_id": parent,
            "command": ["docbatch", "retry-failed", parent],
        }
    )


def _write_manifest(manifest: Path, chosen: list[DocumentRow], level: Priority | None) -> None:
    """The documents to retry as a JSONL manifest in the state folder; EnvironmentFailed if it cannot
    be written (the retry has not started, so it leaves no run behind)."""
    from docbatch.outputs.writers import write_atomic

    lines = (
        dumps_compact({"path": row.path, "id": row.source_id, "priority": _level(level, row.priority)}) + b"\n"
        for row in chosen
    )
    try:
        write_atomic(manifest, b"".join(lines))
    except OSError as error:
        problem = usable_folder_problem(error)
        raise EnvironmentFailed(f"--state {manifest.parent}: cannot write the retry list: {problem}") from None


def _level(chosen: Priority | None, recorded: int | None) -> str:
    """The retried document's priority: the one asked for, else the one it had (retries keep theirs)."""
    if chosen is not None:
        return chosen.name.lower()
    return Priority(recorded if recorded is not None else Priority.NORMAL).name.lower()
