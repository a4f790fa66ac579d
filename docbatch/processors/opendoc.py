"""OpenDocument text (ODT): the body in reading order, then notes, comments, headers and footers.

Content comes from content.xml (read by docbatch.processors.opendoc_text), headers and footers from the
master pages in styles.xml (OpenDocument 1.3 Part 3 §16.9), properties only from meta.xml (§4).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import JsonValue

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.opendoc_text import DC, OFFICE, OdfTextReader, markdown_lines
from docbatch.processors.slide_shapes import Block
from docbatch.processors.xmlsafe import parse_xml
from docbatch.processors.ziputil import check_archive, read_part

_META = "{urn:oasis:names:tc:opendocument:xmlns:meta:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
# dc:creator is who saved the document last, meta:initial-creator who made it (§4.3.2.7, §4.3.2.9).
_META_FIELDS = (
    (f"{DC}title", "title"),
    (f"{DC}subject", "subject"),
    (f"{DC}description", "comments"),
    (f"{_META}initial-creator", "author"),
    (f"{DC}creator", "last_modified_by"),
    (f"{_META}creation-date", "created"),
    (f"{DC}date", "modified"),
    (f"{DC}language", "language"),
    (f"{_META}editing-cycles", "revision"),
)
_HEADER_FOOTER_TAGS = tuple(
    f"{_STYLE}{kind}{variant}" for kind in ("header", "footer") for variant in ("", "-left", "-first")
)


@dataclass
class OdfPackage:
    """The XML parts of an OpenDocument package that the processors read; ``archive`` stays open for
    embedded objects while the package is used as a context manager."""

    archive: zipfile.ZipFile
    content: Any
    styles: Any | None
    meta: Any | None

    def __enter__(self) -> OdfPackage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.archive.close()


def open_odf(path: Path) -> OdfPackage:
    """Open an OpenDocument package and parse content.xml (required), styles.xml and meta.xml.

    Raises CorruptDocument for a broken ZIP, a missing content.xml or invalid XML, DocumentTooLarge
    for a decompression bomb (see ziputil).
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise CorruptDocument(f"broken ZIP container: {error}") from error
    try:
        check_archive(archive)
        names = set(archive.namelist())
        content = parse_xml(read_part(archive, "content.xml"), "content.xml")
        styles = parse_xml(read_part(archive, "styles.xml"), "styles.xml") if "styles.xml" in names else None
        meta = parse_xml(read_part(archive, "meta.xml"), "meta.xml") if "meta.xml" in names else None
    except BaseException:
        archive.close()
        raise
    return OdfPackage(archive=archive, content=content, styles=styles, meta=meta)


def odf_metadata(meta: Any | None) -> dict[str, JsonValue]:
    """Document properties that meta.xml holds (empty ones left out): title, subject, comments, author,
    last_modified_by, created/modified (ISO 8601 as stored), language, revision, keywords and the page
    count the application recorded."""
    metadata: dict[str, JsonValue] = {}
    if meta is None:
        return metadata
    for tag, key in _META_FIELDS:
        found = meta.find(f".//{tag}")
        if found is not None and found.text and found.text.strip():
            metadata[key] = " ".join(found.text.split())
    keywords = [" ".join(e.text.split()) for e in meta.iter(f"{_META}keyword") if e.text and e.text.strip()]
    if keywords:
        metadata["keywords"] = ", ".join(keywords)
    stats = meta.find(f".//{_META}document-statistic")
    count = stats.get(f"{_META}page-count", "") if stats is not None else ""
    if count.isdigit():
        metadata["page_count"] = int(count)
    return metadata


def header_footer_blocks(reader: OdfTextReader, styles: Any | None) -> list[Block]:
    """Header and footer text of the master pages (each distinct text once, in file order); headers
    switched off (style:display="false") are left out."""
    if styles is None:
        return []
    seen: set[str] = set()
    found: list[Block] = []
    for master in styles.iter(f"{_STYLE}master-page"):
        for part in master:
            if part.tag not in _HEADER_FOOTER_TAGS or part.get(f"{_STYLE}display") == "false":
                continue
            for block in reader.blocks(part, 1):
                if block.text and block.text not in seen:
                    seen.add(block.text)
                    found.append(block)
    return found


def _section(title: str, lines: list[str]) -> tuple[str, str]:
    """A marked section after the body: plain text and Markdown."""
    text = "\n".join([title, *lines])
    markdown = "\n\n".join([f"**{title}**", *(markdown_lines(line) for line in lines)])
    return text, markdown


class OdtProcessor(Processor):
    name = "odt"
    kinds: ClassVar[tuple[str, ...]] = ("odt",)
    library = "defusedxml"
    description = "OpenDocument text in reading order: tables, frames, notes, comments, headers and footers"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        with open_odf(source.path) as package:
            body = package.content.find(f"{OFFICE}body/{OFFICE}text")
            if body is None:
                raise CorruptDocument("not an OpenDocument text: content.xml has no office:text body")
            reader = OdfTextReader(package.archive)
            blocks = reader.blocks(body)
            furniture = header_footer_blocks(reader, package.styles)
            metadata = odf_metadata(package.meta)
        texts = ["\n".join(block.text for block in blocks)]
        markdowns = ["\n\n".join(block.markdown for block in blocks if block.markdown)]
        sections = [
            ("Notes", [f"[{citation}] {text}" for citation, text in reader.notes]),
            ("Comments", reader.comments),
            ("Headers and footers", [block.text for block in furniture]),
        ]
        for section_title, lines in sections:
            if lines:
                text, markdown = _section(section_title, lines)
                texts.append(text)
                markdowns.append(markdown)
        stored_title = metadata.get("title")
        title: str | None = stored_title if isinstance(stored_title, str) else None
        if title is None:
            title = next((" ".join(block.text.split()) for block in blocks if block.heading), None)
        return Extraction(
            kind="odt",
            title=title,
            metadata=metadata,
            text="\n\n".join(text for text in texts if text),
            markdown="\n\n".join(markdown for markdown in markdowns if markdown),
            warnings=reader.warnings,
        )
