"""Deciding a document's type from its extension, confirmed by its content.

A strong content signature (PDF header, ZIP container with a known document inside, OLE2, RTF)
wins over the extension, so a PDF renamed `.txt` is still read as a PDF. A weak signal (text that
looks like HTML) only overrides an extension that promises a binary format.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from docbatch.errors import CorruptDocument, EncryptedDocument, UnsupportedDocument
from docbatch.processors.textdecode import bom_encoding, looks_binary
from docbatch.processors.ziputil import check_archive

HEAD_BYTES = 4096

EXTENSION_KINDS: dict[str, str] = {
    "pdf": "pdf",
    "docx": "docx", "docm": "docx", "dotx": "docx", "dotm": "docx",
    "pptx": "pptx", "pptm": "pptx", "ppsx": "pptx", "ppsm": "pptx", "potx": "pptx", "potm": "pptx",
    "xlsx": "spreadsheet", "xlsm": "spreadsheet", "xls": "spreadsheet", "xlsb": "spreadsheet",
    "xltx": "spreadsheet", "xltm": "spreadsheet", "ods": "spreadsheet", "ots": "spreadsheet",
    "odt": "odt", "ott": "odt",
    "odp": "odp", "otp": "odp",
    "epub": "epub",
    "rtf": "rtf",
    "html": "html", "htm": "html", "xhtml": "html",
    "md": "markdown", "markdown": "markdown",
    "txt": "text", "text": "text", "log": "text", "rst": "text", "org": "text", "adoc": "text",
    "yaml": "text", "yml": "text", "toml": "text", "ini": "text", "cfg": "text",
    "csv": "csv", "tsv": "csv", "tab": "csv",
    "json": "json", "geojson": "json", "topojson": "json",
    "jsonl": "jsonl", "ndjson": "jsonl",
    "eml": "eml",
    "xml": "xml", "rss": "xml", "atom": "xml",
}  # fmt: skip

TEXT_KINDS = frozenset({"html", "markdown", "text", "csv", "json", "jsonl", "eml", "xml"})
_ZIP_MARKERS = (
    ("word/document.xml", "docx"),
    ("xl/workbook.xml", "spreadsheet"),
    ("xl/workbook.bin", "spreadsheet"),
    ("ppt/presentation.xml", "pptx"),
)
_ODF_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.text-template": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "spreadsheet",
    b"application/vnd.oasis.opendocument.spreadsheet-template": "spreadsheet",
    b"application/vnd.oasis.opendocument.presentation": "odp",
    b"application/vnd.oasis.opendocument.presentation-template": "odp",
    b"application/epub+zip": "epub",
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Detection:
    kind: str
    warning: str | None = None


def detect(
    path: Path,
    extension: str,
    head: bytes,
    extension_kinds: dict[str, str] = EXTENSION_KINDS,
    trusted_kinds: frozenset[str] | set[str] = frozenset(),
) -> Detection:
    """Return the type to process the file as; raise a DocumentError when no processor can read it.
    ``trusted_kinds`` (plugins' types) are taken from the extension alone: docbatch cannot sniff them."""
    claimed = extension_kinds.get(extension)
    if claimed is not None and claimed in trusted_kinds:
        return Detection(claimed)
    found = _sniff_signature(path, extension, head)
    if found is not None:
        if claimed is not None and claimed != found:
            return Detection(found, f"extension .{extension} but the content is {found}; read as {found}")
        return Detection(found)
    if looks_binary(head):
        if claimed is None:
            raise UnsupportedDocument("binary content of an unknown type")
        raise CorruptDocument(f"not a valid {claimed} file: its content matches no known {claimed} signature")
    if claimed in TEXT_KINDS:
        return Detection(claimed)
    if _looks_like_html(head):
        if claimed is None:
            return Detection("html")
        return Detection("html", f"extension .{extension} but the content is HTML; read as html")
    if claimed is not None:
        raise CorruptDocument(f"not a valid {claimed} file: the content is plain text")
    return Detection("text")


def _sniff_signature(path: Path, extension: str, head: bytes) -> str | None:
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if head.startswith(_OLE_MAGIC):
        return _ole_kind(extension)
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path, extension)
    return None


def _ole_kind(extension: str) -> str:
    if extension in {"xls"}:
        return "spreadsheet"
    if EXTENSION_KINDS.get(extension) in {"docx", "pptx", "spreadsheet"}:
        # Password-protected OOXML files are stored inside an OLE2 container.
        raise EncryptedDocument("password-protected Office file")
    raise UnsupportedDocument("legacy OLE2 document (.doc/.ppt/.msg) is not supported")


def _zip_kind(path: Path, extension: str) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            check_archive(archive)  # before python-docx, python-pptx or calamine unpack anything
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = archive.read("mimetype").strip()
                if mimetype in _ODF_MIMETYPES:
                    return _ODF_MIMETYPES[mimetype]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise CorruptDocument(f"broken ZIP container: {error}") from error
    for marker, kind in _ZIP_MARKERS:
        if marker in names:
            return kind
    main_kind = _ooxml_main_kind(path)
    if main_kind is not None:
        return main_kind
    claimed = EXTENSION_KINDS.get(extension)
    if claimed in {"docx", "pptx", "spreadsheet", "odt", "odp", "epub"}:
        # The main part may live at a non-default path (found through the package relationships):
        # let the format's own library decide.
        return claimed
    raise UnsupportedDocument("ZIP archive with no known document inside")


_MAIN_PART_KINDS = {"document.xml": "docx", "workbook.xml": "spreadsheet", "workbook.bin": "spreadsheet",
                    "presentation.xml": "pptx"}  # fmt: skip


def _ooxml_main_kind(path: Path) -> str | None:
    """The type of an OOXML package whose main part is not at its usual path, from the package's
    officeDocument relationship (ECMA-376 Part 2); None when there is no such package."""
    from docbatch.processors.opc import OpcPackage

    try:
        with OpcPackage(path) as package:
            main = package.main_part
    except CorruptDocument:
        return None
    return _MAIN_PART_KINDS.get(main.rsplit("/", 1)[-1].lower())


def _looks_like_html(head: bytes) -> bool:
    encoding = bom_encoding(head) or "utf-8"
    start = head.decode(encoding, errors="ignore").lstrip("\ufeff \t\r\n").lower()[:512]
    return start.startswith(("<!doctype html", "<html")) or "<html" in start[:200]
