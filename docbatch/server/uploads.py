"""Receiving uploads: a multipart/form-data body streamed to disk part by part.

python-multipart's streaming parser splits each chunk of the body as it arrives; file parts are
written with aiofiles (so the event loop never waits on the disk) under names the server makes
(`<document_id><.ext>`, the extension kept when it is short and plain), never the client's. A file
past the size limit stops the request at once (413) and what was written of it is deleted; nothing
of a body is ever held whole in memory. Form fields (`priority`, `callback_url`) are small and kept.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiofiles
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FIELD_BYTES = 4096
MAX_FILES = 1000
_PLAIN_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}")


class UploadRejected(Exception):
    """The request cannot be accepted: ``status`` is the HTTP status (400, 413, 415, 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ReceivedFile:
    """One stored file: the client's name (shown, never used as a path), where it is, its size."""

    filename: str
    path: Path
    size: int


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    data: bytearray = field(default_factory=bytearray)


def boundary_of(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRejected(415, "send the files as multipart/form-data (field `file`)")
    return boundary


def stored_name(document_id: str, filename: str) -> str:
    """``document_id`` with the client's extension when it is a plain one (`.pdf`), for the type."""
    extension = os.path.splitext(filename)[1]
    return document_id + (extension.lower() if _PLAIN_EXTENSION.fullmatch(extension) else "")


class MultipartReceiver:
    """Feeds a body to the parser and writes its file parts; ``new_id()`` names each stored file."""

    def __init__(self, content_type: str, folder: Path, max_file_bytes: int, new_id: Any) -> None:
        self._parser = MultipartParser(boundary_of(content_type), self._callbacks())
        self._folder = folder
        self._max = max_file_bytes
        self._new_id = new_id
        self._pending: list[tuple[str, bytes]] = []  # parser callbacks, replayed with awaits between
        self._part = _Part()
        self._file: Any = None
        self._current: ReceivedFile | None = None
        self.files: list[tuple[str, ReceivedFile]] = []  # (document_id, file)
        self.fields: dict[str, str] = {}

    def _callbacks(self) -> Any:
        def on(kind: str) -> Any:
            return lambda: self._pending.append((kind, b""))

        def on_bytes(kind: str) -> Any:
            # The parser's buffer is reused for the next chunk: the slice is copied now.
            return lambda data, start, end: self._pending.append((kind, bytes(data[start:end])))

        return {
            "on_part_begin": on("begin"), "on_header_field": on_bytes("hfield"), "on_header_value": on_bytes("hvalue"),
            "on_header_end": on("hend"), "on_headers_finished": on("headers"), "on_part_data": on_bytes("data"),
            "on_part_end": on("end"),
        }  # fmt: skip

    async def receive(self, body: AsyncIterator[bytes]) -> None:
        """Read the whole body; UploadRejected on a bad body or a file past the limit (its partial
        file deleted). The caller deletes the stored files when it gives up on the request."""
        try:
            async for chunk in body:
                self._parser.write(chunk)
                await self._replay()
            self._parser.finalize()
            await self._replay()
        except UploadRejected:
            raise
        except Exception as error:  # the parser's own errors: a malformed body
            raise UploadRejected(400, f"malformed multipart body: {error}") from None
        finally:
            await self._close_file(delete=self._current is not None)

    async def _replay(self) -> None:
        pending, self._pending = self._pending, []
        for kind, data in pending:
            if kind == "data":
                await self._data(data)
            elif kind in ("hfield", "hvalue"):
                target = self._part.header_field if kind == "hfield" else self._part.header_value
                target += data
            elif kind == "hend":
                self._header()
            elif kind == "headers":
                await self._open_part()
            elif kind == "end":
                await self._end_part()
            elif kind == "begin":
                self._part = _Part()

    def _header(self) -> None:
        if bytes(self._part.header_field).lower() == b"content-disposition":
            _, options = parse_options_header(bytes(self._part.header_value))
            self._part.name = options.get(b"name", b"").decode("utf-8", "replace")
            filename = options.get(b"filename")
            self._part.filename = None if filename is None else filename.decode("utf-8", "replace")
        self._part.header_field.clear()
        self._part.header_value.clear()

    async def _open_part(self) -> None:
        if self._part.filename is None:
            return
        if self._part.name != "file":
            raise UploadRejected(422, f"files go in the field `file`, not `{self._part.name}`")
        if len(self.files) >= MAX_FILES:
            raise UploadRejected(413, f"at most {MAX_FILES} files per request")
        document_id = self._new_id()
        path = self._folder / stored_name(document_id, self._part.filename)
        self._current = ReceivedFile(filename=os.path.basename(self._part.filename), path=path, size=0)
        self._file = await aiofiles.open(path, "xb")
        self.files.append((document_id, self._current))

    async def _data(self, data: bytes) -> None:
        if self._current is None:
            self._part.data += data
            if len(self._part.data) > MAX_FIELD_BYTES:
                raise UploadRejected(422, f"form field `{self._part.name}` is longer than {MAX_FIELD_BYTES} bytes")
            return
        self._current.size += len(data)
        if self._current.size > self._max:
            raise UploadRejected(413, f"{self._current.filename}: larger than the upload limit of {self._max} bytes")
        await self._file.write(data)

    async def _end_part(self) -> None:
        if self._current is not None:
            await self._close_file(delete=False)
        elif self._part.name:
            self.fields[self._part.name] = self._part.data.decode("utf-8", "replace")

    async def _close_file(self, *, delete: bool) -> None:
        if self._file is not None:
            await self._file.close()
            self._file = None
        if delete and self._current is not None:
            with contextlib.suppress(OSError):
                self._current.path.unlink()
            self.files = [(document_id, item) for document_id, item in self.files if item is not self._current]
        self._current = None
