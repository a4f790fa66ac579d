"""OpenDocument text (ODT): paragraphs and headings from content.xml, properties from meta.xml."""

from __future__ import annotations

import zipfile
from typing import Any, ClassVar

from pydantic import JsonValue

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.xmlsafe import parse_xml
from docbatch.processors.ziputil import read_part

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_META = "{urn:oasis:names:tc:opendocument:xmlns:meta:1.0}"


def _paragraph_text(element: Any) -> str:
    parts: list[str] = [element.text or ""]
    for child in element:
        tag = child.tag
        if tag == f"{_TEXT}s":
            parts.append(" " * int(child.get(f"{_TEXT}c", "1")))
        elif tag == f"{_TEXT}tab":
            parts.append("\t")
        elif tag == f"{_TEXT}line-break":
            parts.append("\n")
        elif tag in (f"{_TEXT}note", f"{_TEXT}p", f"{_TEXT}h"):
            pass  # footnotes and nested paragraphs are emitted on their own
        else:
            parts.append(_paragraph_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


class OdtProcessor(Processor):
    name = "odt"
    kinds: ClassVar[tuple[str, ...]] = ("odt",)
    library = "defusedxml"
    description = "OpenDocument paragraphs, headings and document properties"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        try:
            with zipfile.ZipFile(source.path) as archive:
                content = parse_xml(read_part(archive, "content.xml"), "content.xml")
                names = archive.namelist()
                meta = parse_xml(read_part(archive, "meta.xml"), "meta.xml") if "meta.xml" in names else None
        except zipfile.BadZipFile as error:
            raise CorruptDocument(f"broken ZIP container: {error}") from error
        lines = [_paragraph_text(element) for element in content.iter() if element.tag in (f"{_TEXT}p", f"{_TEXT}h")]
        metadata: dict[str, JsonValue] = {}
        if meta is not None:
            for tag, key in (
                (f"{_DC}title", "title"),
                (f"{_DC}creator", "author"),
                (f"{_DC}date", "modified"),
                (f"{_META}creation-date", "created"),
                (f"{_DC}language", "language"),
            ):
                found = meta.find(f".//{tag}")
                if found is not None and found.text and found.text.strip():
                    metadata[key] = found.text.strip()
            stats = meta.find(f".//{_META}document-statistic")
            if stats is not None and stats.get(f"{_META}page-count"):
                metadata["page_count"] = int(stats.get(f"{_META}page-count"))
        title = metadata.get("title")
        if not isinstance(title, str):
            heading = next((e for e in content.iter(f"{_TEXT}h")), None)
            title = _paragraph_text(heading).strip() or None if heading is not None else None
        return Extraction(kind="odt", title=title, metadata=metadata, text="\n".join(lines))
