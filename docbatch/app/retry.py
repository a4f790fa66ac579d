"""Retrying a run's failures: choose its failed and dead documents (by error kind and path), write
them as a manifest in the state folder, and build the configuration of a new run linked to the old
one, with the old run's output folder, format and processor. The retry is then an ordinary run."""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from docbatch.config import PoolConfig, RunConfig, SourceConfig
from docbatch.errors import ConfigError, EnvironmentFailed, usable_folder_problem
from docbatch.models import ErrorKind, Priority
from docbatch.serialization import dumps_compact

if TYPE_CHECKING:
    from docbatch.checkpoint.reader import DocumentRow, RunRow

RETRY_MANIFEST = "retry-{run_id}.jsonl"
_FLAGS = {"concurrency": "-j/--concurrency", "timeout_s": "--timeout"}  # what a bad value is named by


@dataclass(frozen=True)
class RetryRequest:
    """What to retry: the run (an id or a unique prefix; the latest when None) in the ledger under
    ``state_dir``, only documents of these error ``kinds`` and whose id or path matches one of the
    ``paths`` globs (empty: all), at ``priority`` (None: each keeps its own), with the pool's
    ``concurrency`` and per-document ``timeout_s`` (None: as the old run)."""

    state_dir: Path
    run: str | None = None
    kinds: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    priority: Priority | None = None
    concurrency: int | None = None
    timeout_s: float | None = None


@dataclass(frozen=True)
class RetryPlan:
    """The retry of run ``parent_run_id``: ``chosen`` of its ``failed`` failed and dead documents, and
    ``config``, the new run's configuration (None when nothing was chosen: there is nothing to run)."""

    parent_run_id: str
    failed: int
    chosen: int
    config: RunConfig | None


def plan_retry(request: RetryRequest) -> RetryPlan:
    """Choose the documents and, when there are any, write their manifest and build the new run's config.

    Raises ConfigError (exit 2) for an unknown error kind or an old run whose configuration cannot be
    repeated; StateLocked (exit 3) while a run holds the state folder (its dead documents are not final
    yet); LedgerError when the run is not found; EnvironmentFailed (exit 5) when the manifest cannot be
    written.
    """
    from docbatch.checkpoint.lock import StateLock
    from docbatch.checkpoint.reader import LedgerReader, failed_documents, find_run

    unknown = sorted(set(request.kinds) - {member.value for member in ErrorKind})
    if unknown:
        raise ConfigError(f"--kind: unknown error kind {', '.join(unknown)} (one of {', '.join(ErrorKind)})")
    StateLock(request.state_dir).check_free()
    reader = LedgerReader.open(request.state_dir)
    try:
        old = find_run(reader, request.run)
        candidates = failed_documents(reader, old.run_id)
    finally:
        reader.close()
    chosen = [row for row in candidates if _matches(row, request)]
    if not chosen:
        return RetryPlan(parent_run_id=old.run_id, failed=len(candidates), chosen=0, config=None)
    base = repeatable_config(old, request.state_dir)
    manifest = request.state_dir / RETRY_MANIFEST.format(run_id=old.run_id)
    _write_manifest(manifest, chosen, request.priority)
    config = _retry_config(base, old.run_id, manifest, request)
    return RetryPlan(parent_run_id=old.run_id, failed=len(candidates), chosen=len(chosen), config=config)


def _matches(row: DocumentRow, request: RetryRequest) -> bool:
    if request.kinds and row.error_kind not in request.kinds:
        return False
    return not request.paths or any(
        fnmatch.fnmatchcase(row.source_id, glob) or fnmatch.fnmatchcase(row.path or "", glob) for glob in request.paths
    )


def repeatable_config(old: RunRow, state: Path) -> RunConfig:
    """The old run's configuration, if a retry of it can start; ConfigError (exit 2) otherwise."""
    if old.config_json is None:
        raise ConfigError(f"run {old.run_id} recorded no configuration to repeat")
    base = _recorded_config(old)
    if not base.output.root.is_absolute() and not _same_folder(base.state_dir, state):
        # A ledger written before paths were recorded absolute: its paths are relative to the folder
        # that run was started from, which is not this one (its state folder is not found from here).
        raise ConfigError(
            f"run {old.run_id} recorded relative paths (output {base.output.root}): "
            "run retry-failed from the folder that run was started in"
        )
    return base  # an --exec program gone since is found by the configuration's own check, once


def _recorded_config(old: RunRow) -> RunConfig:
    """The configuration ``old`` recorded, without its sources; ConfigError when it does not validate."""
    try:
        recorded = json.loads(old.config_json or "")
        # The retry reads its own list of documents: the old run's folders and manifests (relative in
        # ledgers written before paths were recorded absolute, or gone since) need not exist.
        sources = recorded.get("sources") or {}
        recorded["sources"] = {**sources, "paths": [], "manifests": []}
        return RunConfig.model_validate(recorded)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        problem = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"run {old.run_id}: cannot repeat its recorded configuration: {where}: {problem}") from None
    except (ValueError, AttributeError) as error:  # not JSON, or JSON of another shape
        raise ConfigError(f"run {old.run_id}: cannot repeat its recorded configuration: {error}") from None


def _same_folder(recorded: Path, state: Path) -> bool:
    try:
        return os.path.samefile(recorded, state)
    except OSError:
        return False


def _retry_config(base: RunConfig, parent: str, manifest: Path, request: RetryRequest) -> RunConfig:
    """``base`` for the documents in ``manifest``, linked to the run ``parent`` it retries."""
    changes = {"concurrency": request.concurrency, "timeout_s": request.timeout_s}
    try:  # validated, so that the pool's own bounds hold for the values asked for
        pool = PoolConfig.model_validate(
            {**base.pool.model_dump(), **{key: value for key, value in changes.items() if value is not None}}
        )
    except ValidationError as error:
        first = error.errors()[0]
        raise ConfigError(f"{_FLAGS.get(str(first['loc'][0]), 'retry-failed')}: {first['msg']}") from None
    return base.model_copy(
        update={
            "sources": SourceConfig(manifests=[manifest]),
            "pool": pool,
            "state_dir": request.state_dir,
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
