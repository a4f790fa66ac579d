"""Rendering an extraction into the chosen output format, and writing it atomically.

Outputs are deterministic: they hold only what the document and the options decide (no timings, no
run ids), so a resumed run can be compared byte for byte with an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from pathlib import Path, PurePath
from typing import Any, Protocol

from docbatch.config import OutputFormat
from docbatch.errors import DocumentError, environment_problem
from docbatch.models import ErrorKind, Extraction, JobResult, JobState
from docbatch.outputs.paths import output_path
from docbatch.processors.markup import escape_markdown, paragraphs_markdown
from docbatch.serialization import dumps_compact, dumps_pretty

DOCUMENT_SCHEMA = "docbatch.document/1"


class SourceRef(Protocol):
    """What the writer needs to know of a source: a Document in the coordinator, a JobSpec in a worker."""

    @property
    def source_id(self) -> str: ...
    @property
    def path(self) -> PurePath | str: ...
    @property
    def size(self) -> int: ...


def document_payload(document: SourceRef, result: JobResult) -> dict[str, Any]:
    """The per-document JSON object (schema documented in README, "Output schema")."""
    extraction = result.extraction
    assert extraction is not None, "only succeeded jobs are written"
    text = extraction.text
    return {
        "schema": DOCUMENT_SCHEMA,
        "source": {
            "id": document.source_id,
            "path": _printable(str(document.path)),
            "size": document.size,
            "sha256": result.sha256,
        },
        "type": result.kind,
        "processor": {"name": result.processor, "version": result.processor_version},
        "title": extraction.title,
        "metadata": extraction.metadata,
        "pages": [page.model_dump(exclude_none=True, exclude={"markdown"}) for page in extraction.pages],
        "text": text,
        "warnings": extraction.warnings,
        "stats": {"pages": len(extraction.pages), "characters": len(text), "words": len(text.split())},
    }


def write_result(source: SourceRef, result: JobResult, root: Path, fmt: OutputFormat) -> None:
    """Render a succeeded job's output and write it under ``root``; timed as the transform and write
    stages. A failure to write fails the job (never lost silently); the extraction is dropped after.

    A write the machine failed (disk full, quota, read-only file system, I/O error) is not the
    document's fault: the job comes back pending with ``result.environment`` saying why, no partial
    file is left, and the coordinator stops the run."""
    mark = time.perf_counter()
    try:
        target = output_path(root, source.source_id, fmt)
        data = render(source, result, fmt)
        result.times.transform_s = time.perf_counter() - mark
        mark = time.perf_counter()
        if fmt is OutputFormat.JSONL:
            append_line(target, data)
        else:
            write_atomic(target, data)
        result.output_path = str(target)
    except DocumentError as error:
        result.state, result.error_kind, result.message = JobState.DEAD, error.kind, str(error)
    except OSError as error:
        problem = environment_problem(error, root) or _permission_problem(error, root, result.source_id)
        if problem is not None:
            result.state, result.environment = JobState.PENDING, problem
            result.message = f"not written: {problem}"
        else:
            result.state, result.error_kind = JobState.FAILED, ErrorKind.IO
            result.message = f"cannot write output: {error.strerror or error}"
    finally:
        result.times.write_s = time.perf_counter() - mark
    if result.extraction is not None:
        result.pages = len(result.extraction.pages)
        result.extraction = None


def _permission_problem(error: OSError, root: Path, source_id: str) -> str | None:
    """A folder of the output tree that refuses writes (made by another user, its mode changed
    mid-run) is the machine's to fix, like a full disk: every document bound there would fail the
    same way, so the run stops and they stay pending rather than spend their attempts."""
    if not isinstance(error, PermissionError):
        return None
    where = Path(error.filename).parent if isinstance(error.filename, str) else root
    return f"no permission to write in {where} ({error.strerror or 'permission denied'}; document {source_id})"


def _printable(path: str) -> str:
    # File names with undecodable bytes arrive as surrogate escapes, which JSON cannot carry.
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def render(document: SourceRef, result: JobResult, fmt: OutputFormat) -> bytes:
    extraction = result.extraction
    assert extraction is not None, "only succeeded jobs are written"
    if fmt is OutputFormat.TXT:
        return plain_text(extraction).encode("utf-8")  # the text alone: no payload to build
    payload = document_payload(document, result)
    if fmt is OutputFormat.JSON:
        return dumps_pretty(payload)
    if fmt is OutputFormat.JSONL:
        return dumps_compact(payload) + b"\n"
    return _markdown(payload, extraction).encode("utf-8")


def plain_text(extraction: Extraction) -> str:
    """The text output: pages separated by a form feed (U+000C, as `pdftotext` does), so tools that
    count pages by form feeds count them right; a document without pages is its text. Ends with one
    newline."""
    pages = extraction.pages
    text = "\n\f".join(page.text.strip("\n") for page in pages) if pages else extraction.text
    return text.rstrip("\n") + "\n"


def _markdown(payload: dict[str, Any], extraction: Extraction) -> str:
    body = _markdown_body(extraction)
    first, _, rest = body.partition("\n")
    if first.startswith("# "):
        # The document opens with its own title heading: it heads the output, once.
        lines, body = [first, ""], rest.lstrip("\n")
    else:
        title = payload["title"] or payload["source"]["id"]
        lines = [f"# {escape_markdown(' '.join(title.split()))}", ""]
    lines.append(f"- source: `{payload['source']['id']}` ({payload['source']['size']} bytes)")
    lines.append(f"- type: {payload['type']} ({payload['processor']['version']})")
    for warning in payload["warnings"]:
        lines.append(f"- warning: {escape_markdown(warning)}")
    lines.append("")
    if body:
        lines += [body, ""]
    return "\n".join(lines)


def _markdown_body(extraction: Extraction) -> str:
    if extraction.markdown is not None:
        return extraction.markdown.strip("\n")
    if not extraction.pages:
        return paragraphs_markdown(extraction.text)
    sections = []
    for page in extraction.pages:
        label = f" — {escape_markdown(page.label)}" if page.label else ""
        page_body = page.markdown if page.markdown is not None else paragraphs_markdown(page.text)
        sections.append(
            f"## Page {page.number}{label}" + (f"\n\n{page_body.strip(chr(10))}" if page_body.strip() else "")
        )
    return "\n\n".join(sections)


def temporary_name(path: Path) -> Path:
    """The temporary file for a target. Fixed per target on purpose: a run killed between writing and
    renaming leaves it behind, and the resumed run, which redoes that document, reuses and renames it."""
    return path.with_name(f".{path.name}.docbatch-tmp")


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside the target, then rename: readers never see half a file."""
    _ensure_folder(path.parent)
    temporary = temporary_name(path)
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:
        _made_folders.discard(path.parent)  # removed behind our back: made again on the next write
        raise
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def append_line(path: Path, data: bytes) -> None:
    """Append one whole line with a single write (O_APPEND keeps concurrent lines whole). A write cut
    short (a disk filling up) raises OSError and takes its partial line back, so the stream never
    holds half a line that a resumed run would append after."""
    _ensure_folder(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        before = os.fstat(descriptor).st_size
        written = 0
        try:
            written = os.write(descriptor, data)
            if written < len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        except OSError:
            # Only when nothing was appended behind our bytes: another writer's line is never cut.
            if written and os.fstat(descriptor).st_size == before + written:
                os.ftruncate(descriptor, before)
            raise
    finally:
        os.close(descriptor)


_made_folders: set[Path] = set()


def _ensure_folder(folder: Path) -> None:
    """mkdir -p, once per folder per process (a worker writes thousands of outputs into a few folders).
    A folder removed behind our back fails that write (a clear io error, retried) and is made again."""
    if folder not in _made_folders:
        folder.mkdir(parents=True, exist_ok=True)
        _made_folders.add(folder)
