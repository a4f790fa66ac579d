"""OpenDocument text content as blocks of plain text and Markdown, in reading order.

Follows OASIS OpenDocument 1.3 Part 3 (the XML schema): paragraphs and headings (§5.1, with white
space collapsed as §6.1.2 says and ``text:s``/``text:tab``/``text:line-break`` kept), lists (§5.3),
sections and indexes (§5.4, §8), tables (§9, rows and repeated cells), frames, text boxes and drawing
shapes (§10), embedded objects (charts keep their data in a local table, formulas their StarMath
annotation), notes (§6.3, collected for a Notes section, their citation kept in place), annotations
(§14.1, collected as comments) and tracked changes (§5.5: the accepted view, so the deleted text kept
in ``text:tracked-changes`` is never read). Shared by the ODT and ODP processors.
"""

from __future__ import annotations

import re
import zipfile
from typing import Any

from docbatch.errors import CorruptDocument
from docbatch.processors.markup import escape_markdown, heading, markdown_table
from docbatch.processors.slide_shapes import Block
from docbatch.processors.xmlsafe import parse_xml
from docbatch.processors.ziputil import read_part

TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
SVG = "{urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0}"
PRESENTATION = "{urn:oasis:names:tc:opendocument:xmlns:presentation:1.0}"
CHART = "{urn:oasis:names:tc:opendocument:xmlns:chart:1.0}"
DC = "{http://purl.org/dc/elements/1.1/}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_MATHML = "{http://www.w3.org/1998/Math/MathML}"
_WHITESPACE = re.compile(r"[ \t\r\n]+")
# Elements that only declare things (variables, sequences, forms, index templates): no text to read.
_DECLARATIONS = frozenset(
    {
        f"{TEXT}tracked-changes",
        f"{TEXT}variable-decls",
        f"{TEXT}sequence-decls",
        f"{TEXT}user-field-decls",
        f"{TEXT}dde-connection-decls",
        f"{TEXT}soft-page-break",
        f"{OFFICE}forms",
        f"{TABLE}table-columns",
        f"{TABLE}table-column",
        f"{TABLE}table-header-columns",
        f"{TABLE}table-column-group",
        f"{PRESENTATION}notes",
        f"{OFFICE}annotation-end",
        f"{SVG}title",
        f"{SVG}desc",
        f"{DRAW}image",
        f"{DRAW}page-thumbnail",
    }
)
_MAX_CELLS = 100_000  # repeated rows/columns beyond this are spreadsheet padding, not text
_MAX_DEPTH = 64


def markdown_lines(text: str) -> str:
    """Escaped Markdown for a paragraph; a line break inside it stays a line break (a hard break)."""
    return "\\\n".join(escape_markdown(line) for line in text.split("\n"))


class OdfTextReader:
    """Walks OpenDocument content. ``archive`` gives access to embedded objects (None: not read).
    Notes (citation, text), comments and warnings collect on the reader as it goes."""

    def __init__(self, archive: zipfile.ZipFile | None = None) -> None:
        self.archive = archive
        self.notes: list[tuple[str, str]] = []
        self.comments: list[str] = []
        self.warnings: list[str] = []

    def blocks(self, container: Any, depth: int = 0) -> list[Block]:
        """The blocks of the children of ``container`` (office:text, a cell, a text box, a section...)."""
        if depth > _MAX_DEPTH:
            self.warnings.append(f"content nested over {_MAX_DEPTH} deep; the inner part is not read")
            return []
        found: list[Block] = []
        for child in container:
            found.extend(self.block(child, depth))
        return found

    def block(self, element: Any, depth: int) -> list[Block]:
        tag = element.tag
        if tag in _DECLARATIONS or (tag.startswith(TEXT) and tag.endswith("-source")):
            return []  # declarations, and index sources (templates for an index, not its text)
        if tag == f"{OFFICE}annotation":
            self._annotation(element)
            return []
        if tag == f"{TEXT}p":
            return self._paragraph(element, depth)
        if tag == f"{TEXT}h":
            return self._heading(element, depth)
        if tag == f"{TEXT}list":
            return self._list(element, depth, 0)
        if tag == f"{TABLE}table":
            return self._table(element, depth)
        if tag.startswith(DRAW):
            return self.drawing(element, depth)
        # Sections, indexes' bodies, numbered paragraphs, change regions we do not know: read inside.
        return self.blocks(element, depth + 1)

    def _paragraph(self, element: Any, depth: int) -> list[Block]:
        text, markdown, anchored = self.inline(element)
        found = [Block(text=text, markdown=markdown)] if text.strip() else []
        for frame in anchored:
            found.extend(self.drawing(frame, depth + 1))
        return found

    def _heading(self, element: Any, depth: int) -> list[Block]:
        text, _, anchored = self.inline(element)
        level_attribute = element.get(f"{TEXT}outline-level", "1")
        level = int(level_attribute) if level_attribute.isdigit() else 1
        found = [Block(text=text, markdown=heading(text, level), heading=True)] if text.strip() else []
        for frame in anchored:
            found.extend(self.drawing(frame, depth + 1))
        return found

    def _list(self, element: Any, depth: int, level: int) -> list[Block]:
        found: list[Block] = []
        for item in element:
            if item.tag not in (f"{TEXT}list-item", f"{TEXT}list-header"):
                continue
            marker = "- " if item.tag == f"{TEXT}list-item" else "  "
            for child in item:
                if child.tag == f"{TEXT}list":
                    found.extend(self._list(child, depth + 1, level + 1))
                    continue
                for block in self.block(child, depth + 1):
                    if child.tag == f"{TEXT}p" and block.text and not block.heading:
                        # The item's first paragraph carries the marker, later ones continue the item.
                        indent = "  " * level
                        body = block.markdown.replace("\n", "\n" + indent + "  ")
                        block = Block(text=block.text, markdown=f"{indent}{marker}{body}")
                        marker = "  "
                    found.append(block)
        return _join_list_items(found)

    def inline(self, element: Any) -> tuple[str, str, list[Any]]:
        """Text and Markdown of a paragraph's content, and the frames anchored in it (read after it)."""
        texts: list[str] = []
        markdown: list[str] = []
        anchored: list[Any] = []
        self._inline_into(element, texts, markdown, anchored)
        text = "".join(texts).strip(" ")
        return text, "".join(markdown).strip(" ").replace("\n", "\\\n"), anchored

    def _inline_into(self, element: Any, texts: list[str], markdown: list[str], anchored: list[Any]) -> None:
        def add(text: str) -> None:
            texts.append(text)
            markdown.append(escape_markdown(text) if text.strip() else text)

        add(_WHITESPACE.sub(" ", element.text or ""))
        for child in element:
            self._inline_child(child, add, texts, markdown, anchored)
            add(_WHITESPACE.sub(" ", child.tail or ""))

    def _inline_child(self, child: Any, add: Any, texts: list[str], markdown: list[str], anchored: list[Any]) -> None:
        tag = child.tag
        if tag == f"{TEXT}s":
            count = child.get(f"{TEXT}c", "1")
            add(" " * min(int(count) if count.isdigit() else 1, 1000))
        elif tag == f"{TEXT}tab":
            add("\t")
        elif tag == f"{TEXT}line-break":
            add("\n")
        elif tag == f"{TEXT}note":
            add(self._note(child))
        elif tag == f"{OFFICE}annotation":
            self._annotation(child)
        elif tag == f"{TEXT}number":
            add((child.text or "") + " ")
        elif tag == f"{TEXT}ruby":
            base, ruby = _all_text(child.find(f"{TEXT}ruby-base")), _all_text(child.find(f"{TEXT}ruby-text"))
            add(f"{base}({ruby})" if ruby else base)
        elif tag.startswith(DRAW):
            anchored.append(child)
        elif tag in _DECLARATIONS or tag in (f"{TEXT}p", f"{TEXT}h", f"{TEXT}list"):
            return
        elif tag == f"{TEXT}a" and _safe_link(child.get(_XLINK_HREF, "")):
            inner_texts: list[str] = []
            inner_markdown: list[str] = []
            self._inline_into(child, inner_texts, inner_markdown, anchored)
            texts.extend(inner_texts)
            label = "".join(inner_markdown).strip()
            markdown.append(f"[{label}](<{child.get(_XLINK_HREF)}>)" if label else "")
        else:
            self._inline_into(child, texts, markdown, anchored)

    def _note(self, note: Any) -> str:
        citation = " ".join(_all_text(note.find(f"{TEXT}note-citation")).split()) or str(len(self.notes) + 1)
        body = note.find(f"{TEXT}note-body")
        text = "\n".join(block.text for block in self.blocks(body, 1)) if body is not None else ""
        self.notes.append((citation, text))
        return f"[{citation}]"

    def _annotation(self, annotation: Any) -> None:
        author = " ".join((annotation.findtext(f"{DC}creator") or "").split())
        text = "\n".join(block.text for block in self.blocks(annotation, 1) if block.text)
        if text.strip():
            self.comments.append(f"{author}: {text}" if author else text)

    def _table(self, table: Any, depth: int) -> list[Block]:
        rows: list[list[str]] = []
        budget = [_MAX_CELLS]
        self._rows_into(table, rows, depth, budget)
        if budget[0] <= 0:
            self.warnings.append(f"table {table.get(f'{TABLE}name', '')!r}: over {_MAX_CELLS} cells; the rest skipped")
        width = max((len(_trimmed(row)) for row in rows), default=0)
        rows = [row[:width] for row in rows]
        while rows and not any(rows[-1]):
            rows.pop()
        if not rows or width == 0:
            return []
        text = "\n".join(" | ".join(" ".join(cell.split()) for cell in row) for row in rows if any(row))
        return [Block(text=text, markdown=markdown_table(rows))]

    def _rows_into(self, container: Any, rows: list[list[str]], depth: int, budget: list[int]) -> None:
        for child in container:
            if budget[0] <= 0:
                return
            if child.tag == f"{TABLE}table-row":
                row = self._row(child, depth, budget)
                repeat = _repeat(child, f"{TABLE}number-rows-repeated") if any(row) else 1
                for _ in range(min(repeat, max(budget[0] // max(len(row), 1), 1))):
                    rows.append(list(row))
                budget[0] -= len(row) * repeat
            elif child.tag in (f"{TABLE}table-header-rows", f"{TABLE}table-rows", f"{TABLE}table-row-group"):
                self._rows_into(child, rows, depth, budget)

    def _row(self, row: Any, depth: int, budget: list[int]) -> list[str]:
        cells: list[str] = []
        for cell in row:
            if cell.tag not in (f"{TABLE}table-cell", f"{TABLE}covered-table-cell"):
                continue
            text = "\n".join(block.text for block in self.blocks(cell, depth + 1) if block.text)
            repeat = _repeat(cell, f"{TABLE}number-columns-repeated") if text else 1
            if not text:
                # Empty repeated cells pad to the sheet's edge; one stands for all of them.
                repeat = min(_repeat(cell, f"{TABLE}number-columns-repeated"), 64)
            cells.extend([text] * min(repeat, budget[0]))
        return cells

    def drawing(self, shape: Any, depth: int) -> list[Block]:
        """Frames, text boxes, groups and shapes: their alternative text, then the text they hold."""
        found = alt_text(shape)
        for child in shape:
            tag = child.tag
            if tag == f"{DRAW}text-box":
                found.extend(self.blocks(child, depth + 1))
            elif tag in (f"{DRAW}object", f"{DRAW}object-ole"):
                found.extend(self._embedded_object(child, depth))
            elif tag in (f"{TEXT}p", f"{TEXT}h", f"{TEXT}list", f"{TABLE}table") or tag.startswith(DRAW):
                found.extend(self.block(child, depth + 1))
        return found

    def _embedded_object(self, element: Any, depth: int) -> list[Block]:
        """An object stored in its own folder of the package (``./Object 1/content.xml``)."""
        href = element.get(_XLINK_HREF, "").removeprefix("./").strip("/")
        if self.archive is None or element.tag == f"{DRAW}object-ole" or not href:
            self.warnings.append(f"embedded object {href or '(inline)'} not read")
            return []
        try:
            content = parse_xml(read_part(self.archive, f"{href}/content.xml"), f"{href}/content.xml")
        except CorruptDocument as error:
            self.warnings.append(f"embedded object {href} not read: {error}")
            return []
        if content.tag == f"{_MATHML}math":
            return [_formula_block(content)]
        body = content.find(f"{OFFICE}body")
        chart = body.find(f"{OFFICE}chart/{CHART}chart") if body is not None else None
        if chart is not None:
            return self._chart(chart, depth)
        return self.blocks(body[0], depth + 1) if body is not None and len(body) else []

    def _chart(self, chart: Any, depth: int) -> list[Block]:
        titles = [_all_text(chart.find(f"{CHART}{name}")) for name in ("title", "subtitle")]
        title = " ".join(" ".join(titles).split())
        header = f"Chart: {title}" if title else "Chart"
        table = chart.find(f".//{TABLE}table")
        data = self._table(table, depth) if table is not None else []
        text = "\n".join([header] + [block.text for block in data])
        markdown = "\n\n".join([f"**{escape_markdown(header)}**"] + [block.markdown for block in data])
        return [Block(text=text, markdown=markdown)]


def _formula_block(math: Any) -> Block:
    """A formula: its StarMath annotation when present (what the author typed), else the MathML text."""
    annotation = next((e.text for e in math.iter(f"{_MATHML}annotation") if e.text), None)
    text = " ".join((annotation or " ".join(t for t in math.itertext() if t.strip())).split())
    return Block(text=text, markdown=f"`{text}`" if "`" not in text else escape_markdown(text))


def alt_text(shape: Any) -> list[Block]:
    """A shape's alternative text (svg:title and svg:desc) as ``[image: TEXT]``."""
    parts = [" ".join((shape.findtext(f"{SVG}{name}") or "").split()) for name in ("title", "desc")]
    parts = [part for part in parts if part]
    if not parts:
        return []
    text = f"[image: {': '.join(dict.fromkeys(parts))}]"
    return [Block(text=text, markdown=escape_markdown(text))]


def _all_text(element: Any) -> str:
    return "" if element is None else "".join(element.itertext())


def _repeat(element: Any, attribute: str) -> int:
    value = element.get(attribute, "1")
    return max(int(value), 1) if value.isdigit() else 1


def _trimmed(row: list[str]) -> list[str]:
    end = len(row)
    while end and not row[end - 1]:
        end -= 1
    return row[:end]


def _safe_link(href: str) -> bool:
    return bool(re.match(r"^(https?|mailto|ftp):[^\s<>]*$", href))


def _join_list_items(blocks: list[Block]) -> list[Block]:
    """Consecutive list items become one Markdown list (no blank lines between items)."""
    joined: list[Block] = []
    for block in blocks:
        is_item = block.markdown.startswith(("- ", "  "))
        if is_item and joined and joined[-1].markdown.startswith(("- ", "  ")):
            previous = joined.pop()
            block = Block(text=previous.text + "\n" + block.text, markdown=previous.markdown + "\n" + block.markdown)
        joined.append(block)
    return joined
