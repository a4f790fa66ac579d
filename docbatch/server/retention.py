"""Retention: a finished server run's uploads and outputs are deleted once it ended more than
--keep ago (and so did every run that continued or retried it, which write into the same output
folder); the run stays in the ledger with an `expired` mark, so the API answers 410 with when."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path

from docbatch.checkpoint.reader import LedgerReader
from docbatch.server.manager import RunManager
from docbatch.server.settings import ServerSettings

_log = logging.getLogger("docbatch")
MAX_SWEEP_INTERVAL_S = 600.0


def expired_runs(reader: LedgerReader, now: float, keep_s: float) -> list[tuple[str, str | None]]:
    """Server runs that ended before ``now - keep_s``, have no `expired` mark, and whose children
    (resumes, retries) all ended before it too: (run id, output folder) each."""
    cutoff = now - keep_s
    rows = reader.query(
        "SELECT r.run_id, r.output_dir FROM runs r WHERE r.command LIKE 'docbatch serve %' "
        "AND r.finished_at IS NOT NULL AND r.finished_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM events e WHERE e.run_id = r.run_id AND e.source_id = '' "
        "                AND e.state = 'expired') "
        "AND NOT EXISTS (SELECT 1 FROM runs c WHERE c.parent_run_id = r.run_id "
        "                AND (c.finished_at IS NULL OR c.finished_at >= ?)) "
        "ORDER BY r.finished_at LIMIT 1000",
        (cutoff, cutoff),
    )
    return [(str(run_id), None if output is None else str(output)) for run_id, output in rows]


def _prune_files(settings: ServerSettings, run_id: str, output_dir: str | None) -> None:
    """Delete the run's upload folder and its output folder, only ever below the server's folders."""
    for folder in (settings.uploads_dir / run_id, Path(output_dir) if output_dir else None):
        if folder is None:
            continue
        managed = folder.resolve()
        if any(
            managed.is_relative_to(base.resolve()) and managed != base.resolve()
            for base in (settings.uploads_dir, settings.outputs_dir)
        ):
            shutil.rmtree(managed, ignore_errors=True)


async def sweep(manager: RunManager) -> int:
    """One pass: prune what expired; returns how many runs."""
    settings = manager.settings

    def find() -> list[tuple[str, str | None]]:
        reader = LedgerReader.open(settings.state_dir)
        try:
            return expired_runs(reader, time.time(), settings.keep_s)
        finally:
            reader.close()

    found = await asyncio.to_thread(find)
    for run_id, output_dir in found:
        await asyncio.to_thread(_prune_files, settings, run_id, output_dir)
        await manager.mark(run_id, "expired", message=f"uploads and outputs pruned after {settings.keep_s:g}s")
    if found:
        _log.info("retention: pruned the files of %d run(s) that ended more than %gs ago", len(found), settings.keep_s)
    return len(found)


async def keep_pruning(manager: RunManager) -> None:
    """Sweep every keep/10 (between 1 s and 10 min) until cancelled; a failed sweep is logged and retried."""
    interval = min(MAX_SWEEP_INTERVAL_S, max(1.0, manager.settings.keep_s / 10))
    while True:
        try:
            await sweep(manager)
        except Exception as error:  # the next sweep tries again; serving goes on
            _log.error("retention: sweep failed: %s", error)
        await asyncio.sleep(interval)
