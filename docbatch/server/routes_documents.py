"""/v1/documents: upload files into a server-managed run, then read each one's state and output."""

from __future__ import annotations

import asyncio
import glob
import os
import secrets
import shutil
import time
from pathlib import Path

import aiofiles
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel

from docbatch.app.runs import new_run_id
from docbatch.checkpoint.reader import LedgerReader
from docbatch.config import OutputFormat
from docbatch.errors import ConfigError
from docbatch.models import Priority
from docbatch.serialization import dumps_compact
from docbatch.server.auth import require_token
from docbatch.server.common import Conflict, Gone, manager_of, read_ledger, settings_of
from docbatch.server.manager import QueuedRun
from docbatch.server.settings import ServerSettings
from docbatch.server.submissions import run_config
from docbatch.server.uploads import MultipartReceiver, UploadRejected, stored_name
from docbatch.server.views import DocumentView, NotFound, document_row, document_view, run_marks, run_row

router = APIRouter(prefix="/v1/documents", tags=["documents"], dependencies=[Depends(require_token)])
MANIFEST = "manifest.jsonl"
_MEDIA = {".json": "application/json", ".md": "text/markdown; charset=utf-8", ".txt": "text/plain; charset=utf-8"}


class UploadedDocument(BaseModel):
    document_id: str
    filename: str
    size: int
    status_url: str
    output_url: str


class UploadAccepted(BaseModel):
    run_id: str
    documents: list[UploadedDocument]


@router.post(
    "",
    status_code=202,
    response_model=UploadAccepted,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                            "priority": {"type": "string", "enum": ["low", "normal", "high", "critical"]},
                            "format": {"type": "string", "enum": ["json", "md", "txt"]},
                            "callback_url": {"type": "string", "format": "uri"},
                        },
                    }
                }
            },
            "required": True,
        }
    },
)
async def upload(request: Request, response: Response) -> UploadAccepted:
    """Upload one or more files (field `file`, repeated); 202 with a document id per file. Optional
    fields: `priority`, `format` (of the output), `callback_url` (POSTed the signed run summary when
    its run ends, as `docbatch run --notify`). 413 past --max-upload per file."""
    settings = settings_of(request)
    staging = settings.uploads_dir / "incoming" / secrets.token_hex(8)
    await asyncio.to_thread(staging.mkdir, parents=True)
    try:
        receiver = MultipartReceiver(
            request.headers.get("content-type", ""),
            staging,
            settings.max_upload_bytes,
            new_id=lambda: secrets.token_hex(8),
        )
        await receiver.receive(request.stream())
        if not receiver.files:
            raise UploadRejected(422, "no file in the field `file`")
        level, fmt, notify = _upload_options(receiver.fields)
        return await _file_into_run(request, receiver, staging, level, fmt, notify)
    finally:
        await asyncio.to_thread(shutil.rmtree, staging, True)


def _upload_options(fields: dict[str, str]) -> tuple[Priority, OutputFormat, str | None]:
    unknown = sorted(set(fields) - {"priority", "format", "callback_url"})
    if unknown:
        raise UploadRejected(422, f"unknown form field {', '.join(unknown)} (file, priority, format, callback_url)")
    level_name = fields.get("priority", "normal").strip().upper()
    if level_name not in Priority.__members__:
        raise UploadRejected(422, "priority: one of low, normal, high, critical")
    try:
        fmt = OutputFormat(fields.get("format", "json").strip())
    except ValueError:
        raise UploadRejected(422, "format: one of json, md, txt") from None
    if fmt is OutputFormat.JSONL:
        raise UploadRejected(422, "format: one of json, md, txt (jsonl is one stream per run)")
    notify = fields.get("callback_url", "").strip() or None
    if notify:
        from docbatch.app.notify import check_url

        try:
            check_url(notify)
        except ConfigError as error:
            raise UploadRejected(422, f"callback_url: {error}") from None
    return Priority[level_name], fmt, notify


async def _file_into_run(
    request: Request, receiver: MultipartReceiver, staging: Path, level: Priority, fmt: OutputFormat, notify: str | None
) -> UploadAccepted:
    """Move the stored files into the upload run (made when none is open) and list them in its manifest."""
    settings = settings_of(request)
    manager = manager_of(request)

    async def make() -> QueuedRun:
        run_id = new_run_id()
        folder = settings.uploads_dir / run_id
        await asyncio.to_thread(folder.mkdir, parents=True)
        await asyncio.to_thread((folder / MANIFEST).touch)
        config = run_config(
            settings, run_id, kind="upload", manifests=[folder / MANIFEST], options={"format": fmt.value}, notify=notify
        )
        return QueuedRun(run_id=run_id, kind="upload", config=config, accepted_at=time.time(), notify=notify)

    target = await manager.upload_target(level, (notify, fmt.value), make)
    documents: list[UploadedDocument] = []
    try:
        folder = settings.uploads_dir / target.run_id
        rows = []
        for token, received in receiver.files:
            document_id = f"{target.run_id}.{token}"
            final = folder / stored_name(document_id, received.filename)
            await asyncio.to_thread(os.replace, received.path, final)
            rows.append(dumps_compact({"path": str(final), "id": document_id, "priority": level.name.lower()}) + b"\n")
            base = f"/v1/documents/{document_id}"
            documents.append(UploadedDocument(
                document_id=document_id, filename=received.filename, size=received.size,
                status_url=base, output_url=f"{base}/output",
            ))  # fmt: skip
        async with aiofiles.open(folder / MANIFEST, "ab") as manifest:
            await manifest.write(b"".join(rows))
    finally:
        manager.upload_done(target, len(documents))
    return UploadAccepted(run_id=target.run_id, documents=documents)


def _queued_view(reader: LedgerReader, settings: ServerSettings, document_id: str) -> DocumentView:
    """A document uploaded into a run that has not recorded it yet."""
    run_id = document_id.rpartition(".")[0]
    if not run_id or "/" in document_id:
        raise NotFound(f"no document {document_id!r}")
    row = run_row(reader, run_id)  # NotFound when there is no such run
    if not any((settings.uploads_dir / run_id).glob(f"{glob.escape(document_id)}*")):
        raise NotFound(f"no document {document_id!r}")
    base = f"/v1/documents/{document_id}"
    return DocumentView(document_id=document_id, run_id=run_id, state="queued" if row.status == "queued" else "pending",
                        attempts=0, links={"self": base, "output": f"{base}/output"})  # fmt: skip


def _document(
    reader: LedgerReader, settings: ServerSettings, document_id: str
) -> tuple[DocumentView, str | None, float | None]:
    """The document's view, its output file and when its run's files expired (None: not expired)."""
    row = document_row(reader, document_id)
    if row is None:
        return _queued_view(reader, settings, document_id), None, None
    view = document_view(row, f"{settings.uploads_dir}{os.sep}")
    expired = run_marks(reader, view.run_id).get("expired") if view.run_id else None
    return view, None if row[7] is None else str(row[7]), expired


@router.get("/{document_id:path}/output")
async def get_output(
    request: Request, document_id: str, format: str | None = Query(None, description="json, md or txt")
) -> FileResponse:
    """The extraction, in the format its run wrote (`format` at upload, `options.format` for a run);
    406 for another format, 409 until the document has succeeded, 410 once expired."""
    settings = settings_of(request)
    view, output, expired = await read_ledger(settings, _document, settings, document_id)
    if expired is not None:
        raise Gone(f"document {document_id}'s output", expired)
    if view.state != "succeeded" or output is None:
        raise Conflict(f"document {document_id} has no output ({view.state})")
    path = Path(output)
    written = path.suffix.lstrip(".")
    if format is not None and format not in ("json", "md", "txt"):
        raise ConfigError("format: one of json, md, txt")
    if format is not None and format != written:
        from fastapi import HTTPException

        raise HTTPException(406, f"document {document_id} was extracted as {written}; ask for that format, or submit "
                                 f"it again with format={format}")  # fmt: skip
    if not await asyncio.to_thread(path.is_file):
        raise Conflict(f"document {document_id}: its output file is gone")
    return FileResponse(path, media_type=_MEDIA.get(path.suffix, "application/octet-stream"))


@router.get("/{document_id:path}", response_model=DocumentView)
async def get_document(request: Request, document_id: str) -> DocumentView:
    """The document's state, attempts (over all runs) and, when it failed, the error kind and message."""
    settings = settings_of(request)
    view, _output, _expired = await read_ledger(settings, _document, settings, document_id)
    return view
