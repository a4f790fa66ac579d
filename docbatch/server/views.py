"""What the API shows of runs and documents, read from the ledger (the only state): RunView (the
status `docbatch status --json` gives, with the server's links and how the run was continued) and
DocumentView. Every function takes an open LedgerReader and is meant to run in a worker thread."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import BaseModel, Field

from docbatch.app.status import describe
from docbatch.checkpoint.base import RUN_EVENT_SOURCE
from docbatch.checkpoint.reader import RUN_COLUMNS, LedgerReader, RunRow
from docbatch.models import RunStatus
from docbatch.server.submissions import kind_of

_DOCUMENT_COLUMNS = "source_id, last_run_id, state, attempts, error_kind, message, path, output_path"


class NotFound(LookupError):
    """No such run or document (HTTP 404)."""


class RunView(RunStatus):
    """A run as the API shows it: its status (as `docbatch status --json`) and the server's view."""

    kind: str = Field(description="paths, upload, retry, resume; cli for a run the CLI started.")
    continued_by: str | None = Field(default=None, description="The run that resumed this one after a restart.")
    retried_by: list[str] = Field(default_factory=list, description="Runs that retried this one's failures.")
    expired_at: float | None = Field(default=None, description="When its uploads and outputs were pruned (epoch s).")
    reason: str | None = Field(default=None, description="Why a run failed before it could start.")
    links: dict[str, str] = Field(default_factory=dict)


class DocumentView(BaseModel):
    """A document's current state: ``attempts`` counts every try over all runs; ``run_id`` is the run
    that touched it last."""

    document_id: str
    run_id: str | None
    state: str
    attempts: int
    error_kind: str | None = None
    message: str | None = None
    path: str | None = Field(default=None, description="The source file (None for uploads).")
    links: dict[str, str] = Field(default_factory=dict)


class RunPage(BaseModel):
    runs: list[RunView]
    next: str | None = Field(description="Pass as ?before= for the next (older) page; None on the last.")


class DocumentPage(BaseModel):
    documents: list[DocumentView]
    next: str | None = Field(description="Pass as ?after= for the next page; None on the last.")


def run_row(reader: LedgerReader, run_id: str) -> RunRow:
    rows = reader.query(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
    if not rows:
        raise NotFound(f"no run {run_id!r}")
    return RunRow(*rows[0])  # type: ignore[arg-type]


def run_marks(reader: LedgerReader, run_id: str) -> dict[str, float]:
    """The run's own events by state (the last time of each): queued, running, stop_requested, expired..."""
    rows = reader.query(
        "SELECT state, max(at) FROM events WHERE run_id = ? AND source_id = ? GROUP BY state",
        (run_id, RUN_EVENT_SOURCE),
    )
    return {str(state): float(at) for state, at in rows}  # type: ignore[arg-type]


def run_view(reader: LedgerReader, row: RunRow) -> RunView:
    status = describe(reader, row)
    children = reader.query(
        "SELECT run_id, command FROM runs WHERE parent_run_id = ? ORDER BY started_at", (row.run_id,)
    )
    continued = [str(child) for child, command in children if kind_of(str(command)) == "resume"]
    retried = [str(child) for child, command in children if kind_of(str(command)) != "resume"]
    base = f"/v1/runs/{row.run_id}"
    reason = None
    if row.status == "failed":
        found = reader.query(
            "SELECT message FROM events WHERE run_id = ? AND source_id = ? AND state = 'failed' "
            "ORDER BY id DESC LIMIT 1",
            (row.run_id, RUN_EVENT_SOURCE),
        )
        reason = str(found[0][0]) if found and found[0][0] is not None else None
    return RunView(
        **status.model_dump(),
        kind=kind_of(row.command),
        continued_by=continued[-1] if continued else None,
        retried_by=retried,
        expired_at=run_marks(reader, row.run_id).get("expired"),
        reason=reason,
        links={
            "self": base,
            "documents": f"{base}/documents",
            "report": f"{base}/report",
            "report_html": f"{base}/report.html",
        },
    )


def list_run_views(reader: LedgerReader, limit: int, before: str | None) -> RunPage:
    """Runs, the most recently accepted first (the runs table's insertion order, which a queued run
    keeps when it starts), ``limit`` of them after the run ``before``."""
    rows = reader.query(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE ? IS NULL OR rowid < (SELECT rowid FROM runs WHERE run_id = ?) "
        "ORDER BY rowid DESC LIMIT ?",
        (before, before, limit + 1),
    )
    runs = [RunRow(*row) for row in rows[:limit]]  # type: ignore[arg-type]
    return RunPage(runs=[run_view(reader, row) for row in runs], next=runs[-1].run_id if len(rows) > limit else None)


def document_view(row: tuple[object, ...], uploads_prefix: str = "") -> DocumentView:
    """The API's view of a documents row (``uploads_prefix``: the uploads folder, whose paths are
    the server's business and not shown)."""
    source_id, run_id, state, attempts, error_kind, message, path, _output = row
    document_id = str(source_id)
    uploaded = path is not None and str(path).startswith(uploads_prefix) if uploads_prefix else False
    base = f"/v1/documents/{quote(document_id)}"
    return DocumentView(
        document_id=document_id, run_id=None if run_id is None else str(run_id), state=str(state),
        attempts=int(attempts),  # type: ignore[call-overload]
        error_kind=None if error_kind is None else str(error_kind), message=None if message is None else str(message),
        path=None if uploaded or path is None else str(path), links={"self": base, "output": f"{base}/output"},
    )  # fmt: skip


def run_documents(
    reader: LedgerReader, run_id: str, state: str | None, after: str | None, limit: int, uploads_prefix: str = ""
) -> DocumentPage:
    """The documents of this run as the run left them (its last event of each: a later run of the
    same document does not change this run's list), by id, ``limit`` after ``after``, only in
    ``state`` when given; ``attempts`` is the document's count over all runs."""
    rows = reader.query(
        "SELECT e.source_id, e.run_id, e.state, coalesce(d.attempts, 0), e.error_kind, e.message, d.path, NULL "
        "FROM events e LEFT JOIN documents d ON d.source_id = e.source_id "
        "WHERE e.id IN (SELECT max(id) FROM events WHERE run_id = ? AND source_id > ? GROUP BY source_id) "
        "AND (? IS NULL OR e.state = ?) ORDER BY e.source_id LIMIT ?",
        (run_id, after or RUN_EVENT_SOURCE, state, state, limit + 1),
    )
    documents = [document_view(row, uploads_prefix) for row in rows[:limit]]
    return DocumentPage(documents=documents, next=documents[-1].document_id if len(rows) > limit else None)


def document_row(reader: LedgerReader, document_id: str) -> tuple[object, ...] | None:
    rows = reader.query(f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE source_id = ?", (document_id,))
    return rows[0] if rows else None
