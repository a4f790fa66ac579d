"""Word documents through python-docx."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import JsonValue

from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile

_CORE_FIELDS = (
    "title", "subject", "author", "keywords", "category", "comments", "last_modified_by",
    "created", "modified", "revision", "language",
)  # fmt: skip


def core_properties(props: Any) -> dict[str, JsonValue]:
    """The OOXML core properties that are set, with dates as ISO 8601 strings."""
    found: dict[str, JsonValue] = {}
    for field in _CORE_FIELDS:
        value = getattr(props, field, None)
        if isinstance(value, datetime.datetime):
            found[field] = value.isoformat()
        elif isinstance(value, str) and value.strip():
            found[field] = value.strip()
        elif isinstance(value, int) and not isinstance(value, bool) and value:
            found[field] = value
    return found


class DocxProcessor(Processor):
    name = "docx"
    kinds: ClassVar[tuple[str, ...]] = ("docx",)
    library = "python-docx"
    description = "paragraphs and tables in reading order, headers, footers, core properties"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        import docx

        document = docx.Document(str(source.path))
        blocks = list(_docx_blocks(document))
        metadata = core_properties(document.core_properties)
        headers = _header_footer_text(document)
        if headers:
            metadata["headers_footers"] = list[JsonValue](headers)
        metadata["paragraphs"] = len(document.paragraphs)
        metadata["tables"] = len(document.tables)
        title = metadata.get("title")
        if not isinstance(title, str):
            title = next((p.text.strip() for p in document.paragraphs if _is_title(p) and p.text.strip()), None)
        return Extraction(kind="docx", title=title, metadata=metadata, text="\n".join(blocks))


def _is_title(paragraph: Any) -> bool:
    style = getattr(paragraph.style, "name", "") or ""
    return style == "Title" or style.startswith("Heading 1")


def _docx_blocks(document: Any) -> Iterator[str]:
    from docx.table import Table

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            yield from _table_rows(block)
        else:
            yield block.text


def _table_rows(table: Any) -> Iterator[str]:
    try:
        rows = list(_grid_rows(table))
    except (ValueError, IndexError):
        # python-docx cannot map some irregular grids (cells spanning past the grid); fall back to
        # the raw text of each row rather than lose the table.
        rows = [_raw_row_text(row) for row in table._tbl.tr_lst]
    yield from rows


def _raw_row_text(row: Any) -> str:
    from docx.oxml.ns import qn

    cells = ["".join(t.text or "" for t in cell.iter(qn("w:t"))) for cell in row.iter(qn("w:tc"))]
    return " | ".join(" ".join(cell.split()) for cell in cells)


def _grid_rows(table: Any) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; print it once.
            if previous is not None and cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        yield " | ".join(cells)


def _header_footer_text(document: Any) -> list[str]:
    seen: list[str] = []
    for section in document.sections:
        for part in (section.header, section.footer):
            if part.is_linked_to_previous:
                continue
            text = "\n".join(p.text for p in part.paragraphs if p.text.strip())
            if text and text not in seen:
                seen.append(text)
    return seen
