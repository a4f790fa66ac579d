"""/v1/runs: submit a run over server-side paths, list and watch runs, their documents and reports,
stop or cancel one, retry its failures."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from docbatch.app.runs import new_run_id
from docbatch.checkpoint.reader import LedgerReader, failed_documents
from docbatch.errors import ConfigError
from docbatch.server.auth import require_token
from docbatch.server.common import Conflict, Gone, manager_of, read_ledger, settings_of
from docbatch.server.manager import QueuedRun
from docbatch.server.submissions import allowed_path, run_config
from docbatch.server.views import DocumentPage, RunPage, RunView, list_run_views, run_documents, run_row, run_view

router = APIRouter(prefix="/v1/runs", tags=["runs"], dependencies=[Depends(require_token)])
ENDED = frozenset({"finished", "interrupted", "cancelled", "failed", "crashed"})
MAX_WAIT_S = 300.0


class RunRequest(BaseModel):
    """A run over server-side paths (each under one of the server's --root folders)."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(min_length=1, description="Files or folders, as on `docbatch run PATH...`.")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="`docbatch run` options by long name (`format`, `timeout`, `exclude`, ...); "
        "not output, state, executor, processor, exec or manifest.",
        examples=[{"format": "md", "timeout": "2m"}],
    )


class Accepted(BaseModel):
    run_id: str
    status: str = "queued"
    status_url: str


def _accepted(response: Response, run_id: str) -> Accepted:
    response.headers["Location"] = f"/v1/runs/{run_id}"
    return Accepted(run_id=run_id, status_url=f"/v1/runs/{run_id}")


@router.post("", status_code=202, response_model=Accepted)
async def submit_run(body: RunRequest, request: Request, response: Response) -> Accepted:
    """Queue a run; 202 at once with its id (403 for a path outside the roots, 422 for a bad option)."""
    settings = settings_of(request)
    paths = [allowed_path(settings, given) for given in body.paths]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise ConfigError(f"paths: no such file or folder: {', '.join(missing)}")
    run_id = new_run_id()
    config = run_config(settings, run_id, kind="paths", paths=paths, options=body.options)
    await manager_of(request).accept(QueuedRun(run_id=run_id, kind="paths", config=config, accepted_at=time.time()))
    return _accepted(response, run_id)


@router.get("", response_model=RunPage)
async def list_runs(
    request: Request, limit: int = Query(50, ge=1, le=500), before: str | None = Query(None)
) -> RunPage:
    """Runs, newest first, ``limit`` per page; pass the page's ``next`` as ``before``."""
    return await read_ledger(settings_of(request), list_run_views, limit, before)


def _view(reader: LedgerReader, run_id: str) -> RunView:
    return run_view(reader, run_row(reader, run_id))


@router.get("/{run_id}", response_model=RunView)
async def get_run(request: Request, run_id: str, wait: float = Query(0.0, ge=0.0, le=MAX_WAIT_S)) -> RunView:
    """The run's status; with ``wait`` (seconds), answers as soon as the run has ended or when the
    time is up (long polling: no request stays open longer than a proxy allows)."""
    settings = settings_of(request)
    deadline = time.monotonic() + wait
    view = await read_ledger(settings, _view, run_id)
    while view.status not in ENDED and time.monotonic() < deadline:
        await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
        view = await read_ledger(settings, _view, run_id)
    return view


@router.get("/{run_id}/documents", response_model=DocumentPage)
async def get_run_documents(
    request: Request,
    run_id: str,
    state: str | None = Query(None, description="succeeded, failed, dead, skipped, cancelled, running, pending"),
    after: str | None = Query(None, description="The previous page's `next`."),
    limit: int = Query(100, ge=1, le=1000),
) -> DocumentPage:
    """The documents the run touched last, by id, with each one's error kind and message."""

    def read(reader: LedgerReader) -> DocumentPage:
        run_row(reader, run_id)  # 404 for an unknown run
        return run_documents(reader, run_id, state, after, limit, f"{settings.uploads_dir}{os.sep}")

    settings = settings_of(request)
    return await read_ledger(settings, read)


async def _report_file(request: Request, run_id: str) -> Path:
    view = await read_ledger(settings_of(request), _view, run_id)
    if view.expired_at is not None:
        raise Gone(f"run {run_id}'s report", view.expired_at)
    if view.status not in ENDED or not Path(view.report).is_file():
        raise Conflict(f"run {run_id} has no report yet (status {view.status})")
    return Path(view.report)


@router.get("/{run_id}/report", response_class=FileResponse)
async def get_report(request: Request, run_id: str) -> FileResponse:
    """The run report (JSON, the same file as `docbatch report`)."""
    return FileResponse(await _report_file(request, run_id), media_type="application/json")


@router.get("/{run_id}/report.html", response_class=HTMLResponse)
async def get_report_html(request: Request, run_id: str) -> HTMLResponse:
    """The run report as one self-contained HTML page (as `docbatch report --html`)."""
    from docbatch.report.html import render_html
    from docbatch.report.model import RunReport

    path = await _report_file(request, run_id)
    report = RunReport.model_validate_json(await asyncio.to_thread(path.read_bytes))
    return HTMLResponse(await asyncio.to_thread(render_html, report))


@router.delete("/{run_id}", status_code=202, response_model=RunView)
async def stop_run(request: Request, run_id: str, hard: bool = Query(False)) -> RunView:
    """Drain the run (running jobs finish, the rest stay pending; a queued run never starts), or
    with ``hard=true`` cancel its running jobs now. 409 once it has ended."""
    settings = settings_of(request)
    view = await read_ledger(settings, _view, run_id)
    if view.status in ENDED:
        raise Conflict(f"run {run_id} has already ended ({view.status})")
    if not await manager_of(request).stop_run(run_id, hard=hard):
        raise Conflict(f"run {run_id} is not run by this server (status {view.status})")
    return await read_ledger(settings, _view, run_id)


@router.post("/{run_id}/retry", status_code=202, response_model=Accepted)
async def retry_run(request: Request, response: Response, run_id: str) -> Accepted:
    """Queue a retry of the run's failed and dead documents, as a run linked to it (its `retried_by`);
    its documents are chosen when it starts. 409 while the run has not ended."""
    view = await read_ledger(settings_of(request), _view, run_id)
    if view.status not in ENDED:
        raise Conflict(f"run {run_id} has not ended yet (status {view.status}): retry it once it has")
    if view.expired_at is not None:
        raise Gone(f"run {run_id}", view.expired_at)
    failures = await read_ledger(settings_of(request), lambda reader: len(failed_documents(reader, run_id)))
    if failures == 0:
        raise Conflict(
            f"run {run_id} has no failed or dead documents to retry (a stopped run's pending documents "
            "are processed by submitting its paths again)"
        )
    new_id = new_run_id()
    await manager_of(request).accept(
        QueuedRun(run_id=new_id, kind="retry", config=None, accepted_at=time.time(), parent=run_id)
    )
    return _accepted(response, new_id)
