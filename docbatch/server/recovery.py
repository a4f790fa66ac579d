"""What a starting server finds in its ledger: its queued runs (started in turn, in their order) and
the runs it was running when it died or was shut down (each resumed as a new run linked to the old
one); and a retry's plan, made when the retry starts."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from docbatch.app.runs import new_run_id
from docbatch.checkpoint.reader import RUN_COLUMNS, LedgerReader, RunRow
from docbatch.config import RunConfig
from docbatch.models import Priority
from docbatch.server.manager import SHUTDOWN_MARK, STOP_MARK, QueuedRun
from docbatch.server.settings import ServerSettings
from docbatch.server.submissions import COMMAND, kind_of, notify_of
from docbatch.server.views import run_marks

if TYPE_CHECKING:
    from docbatch.server.manager import RunManager

_log = logging.getLogger("docbatch")


async def recover(manager: RunManager) -> list[QueuedRun]:
    """The queued runs to serve, oldest first: those recorded as queued, then a resume of each run
    left unfinished (new ones are recorded in the ledger here)."""
    queued, resumes = await asyncio.to_thread(_find, manager.settings.state_dir)
    for resume in resumes:
        await manager.accept(resume)
        _log.info("run %s resumes run %s, left unfinished by the last server", resume.run_id, resume.parent)
    return queued


def _find(state_dir: Path) -> tuple[list[QueuedRun], list[QueuedRun]]:
    reader = LedgerReader.open(state_dir)
    try:
        rows = [
            RunRow(*row)  # type: ignore[arg-type]
            for row in reader.query(
                f"SELECT {RUN_COLUMNS} FROM runs WHERE command LIKE 'docbatch serve %' "
                "AND status IN ('queued', 'running', 'interrupted', 'cancelled') ORDER BY started_at"
            )
        ]
        queued = [_queued(row) for row in rows if row.status == "queued"]
        resumes = [_resume(row) for row in rows if row.status != "queued" and _unfinished(reader, row)]
    finally:
        reader.close()
    return [item for item in queued if item is not None], [item for item in resumes if item is not None]


def _unfinished(reader: LedgerReader, row: RunRow) -> bool:
    """Died running, or stopped by a server shutdown (drained, or cancelled by a second signal); not
    stopped on request; not resumed yet."""
    marks = run_marks(reader, row.run_id)
    if STOP_MARK in marks or (row.status in ("interrupted", "cancelled") and SHUTDOWN_MARK not in marks):
        return False  # stopped on request (DELETE, or a budget of its own): not the server's to resume
    children = reader.query("SELECT command FROM runs WHERE parent_run_id = ?", (row.run_id,))
    return not any(kind_of(str(command)) == "resume" for (command,) in children)


def _config(row: RunRow) -> RunConfig | None:
    try:
        return RunConfig.model_validate_json(row.config_json or "")
    except ValidationError as error:  # its folders gone since, say: it cannot start, and says why
        _log.error("run %s cannot be started again: %s", row.run_id, error.errors()[0]["msg"])
        return None


def _queued(row: RunRow) -> QueuedRun | None:
    kind = kind_of(row.command)
    config = None if kind == "retry" else _config(row)
    if config is None and kind != "retry":
        return None
    level = _manifest_level(config) if config is not None and kind == "upload" else Priority.NORMAL
    return QueuedRun(
        run_id=row.run_id, kind=kind, config=config, accepted_at=row.started_at, level=level,
        parent=row.parent_run_id, notify=notify_of(row.command),
    )  # fmt: skip


def _resume(row: RunRow) -> QueuedRun | None:
    config = _config(row)
    if config is None:
        return None
    notify = notify_of(row.command)
    command = [*COMMAND, "resume", row.run_id, *(["--notify", notify] if notify else [])]
    resumed = config.model_copy(update={"parent_run_id": row.run_id, "command": command})
    return QueuedRun(
        run_id=new_run_id(), kind="resume", config=resumed, accepted_at=row.started_at, parent=row.run_id, notify=notify
    )


def _manifest_level(config: RunConfig) -> int:
    """The highest priority among an upload run's documents (its place in the queue)."""
    level = int(Priority.NORMAL)
    for manifest in config.sources.manifests:
        try:
            lines = manifest.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            name = str(json.loads(line).get("priority", "normal")) if line.strip() else "normal"
            level = max(level, int(Priority[name.upper()]) if name.upper() in Priority.__members__ else level)
    return level


def plan_retry_config(settings: ServerSettings, queued: QueuedRun) -> RunConfig | None:
    """The retry's configuration, planned now (its parent's failures are final once it has ended);
    None when nothing is left to retry. Raises what app.retry.plan_retry raises."""
    from docbatch.app.retry import RetryRequest, plan_retry

    plan = plan_retry(RetryRequest(state_dir=settings.state_dir, run=queued.parent))
    if plan.config is None:
        return None
    notify = ["--notify", queued.notify] if queued.notify else []
    return plan.config.model_copy(update={"command": [*COMMAND, "retry", plan.parent_run_id, *notify]})
