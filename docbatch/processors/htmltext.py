"""Readable text and Markdown from an HTML or XHTML tree.

Both parsers' trees (Lexbor's, through selectolax, for HTML; ElementTree's, through defusedxml, for
XHTML) are turned into one stream of events ``(START, tag) / (TEXT, str) / (END, tag)`` with tags as
lower-case local names, so one walker serves both. The text keeps block elements on their own lines
and table cells tab-separated; the Markdown (CommonMark with GFM tables) has ATX headings, paragraphs
separated by blank lines, bullet and numbered lists, tables with a header rule, fenced preformatted
text and hard line breaks for ``<br>``.
"""

from __future__ import annotations

import html.entities
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from docbatch.errors import CorruptDocument
from docbatch.processors.markup import escape_markdown, heading, markdown_table
from docbatch.processors.xmlsafe import parse_xml

START, TEXT, END = 0, 1, 2
Event = tuple[int, str]

SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object"})
BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "header", "footer", "nav", "aside", "main", "blockquote", "pre",
    "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "caption", "form",
    "fieldset", "figure", "figcaption", "address", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "details",
    "summary", "body", "title",
})  # fmt: skip
CELL_TAGS = frozenset({"td", "th"})
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_SPACES = re.compile(r"[ \f\v\u00a0\u200b]+")
_TABS = re.compile(r"\s*\t[\s\t]*")
_INLINE_SPACE = re.compile(r"[ \t\n\r\f\v\u00a0\u200b]+")
# The XHTML 1.0 DTDs' character entities (HTML 4's): an EPUB 2 chapter that declares those DTDs may use
# &nbsp; and friends, which an XML parser that does not read external DTDs cannot resolve by itself.
_XHTML_ENTITIES = {name: chr(point) for name, point in html.entities.name2codepoint.items()}


def local_name(tag: str) -> str:
    """``{namespace}name`` -> ``name``, lower-cased."""
    return tag.rpartition("}")[2].lower()


def parse_xhtml(document: str | bytes) -> Any | None:
    """The root element of an XHTML document parsed as XML, or None when it is not well-formed.

    Entity declarations and external references are refused (defusedxml); a DOCTYPE is allowed (EPUB 2
    chapters declare the XHTML DTD), and the XHTML DTD's named entities resolve without reading it.
    """
    try:
        return parse_xml(document, "XHTML", allow_doctype=True, entities=_XHTML_ENTITIES)
    except CorruptDocument:
        return None


def lexbor_events(root: Any) -> Iterator[Event]:
    """Events of a selectolax (Lexbor) node's subtree; skipped elements and comments yield nothing."""
    # An explicit stack: pages with thousands of unclosed tags nest too deep for recursion.
    stack: list[tuple[Any, str | None]] = [(root, None)]
    while stack:
        node, leaving = stack.pop()
        if leaving is not None:
            yield END, leaving
            continue
        if node.is_text_node:
            yield TEXT, node.text_content or ""
            continue
        tag = node.tag or ""
        if tag.startswith("-") or tag in SKIP_TAGS:
            continue
        if tag == "img":
            yield from _alternative_text(node.attributes.get("alt"))
        yield START, tag
        stack.append((node, tag))
        stack.extend((child, None) for child in reversed(list(node.iter(include_text=True))))


def element_events(root: Any) -> Iterator[Event]:
    """Events of an ElementTree element's subtree (text and tails in document order)."""
    stack: list[tuple[int, Any]] = [(START, root)]
    while stack:
        kind, item = stack.pop()
        if kind != START:
            yield kind, item
            continue
        if not isinstance(item.tag, str):  # a comment or processing instruction
            continue
        tag = local_name(item.tag)
        if tag == "head":
            # Text written straight into <head> is shown by browsers (their HTML parser moves it into
            # the body); the elements there (title, style, meta) are not.
            stray = [item.text or "", *(child.tail or "" for child in item)]
            yield TEXT, " ".join(text for text in stray if text.strip())
            continue
        if tag in SKIP_TAGS:
            continue
        if tag == "img":
            yield from _alternative_text(item.get("alt"))
        yield START, tag
        stack.append((END, tag))
        for child in reversed(item):
            if child.tail:
                stack.append((TEXT, child.tail))
            stack.append((START, child))
        if item.text:
            stack.append((TEXT, item.text))


def _alternative_text(alt: str | None) -> Iterator[Event]:
    """An image's alternative text, as the other formats show it (``[image: TEXT]``): it is the text a
    screen reader speaks in its place, and often the only words a figure has."""
    words = " ".join((alt or "").split())
    if words:
        yield TEXT, f" [image: {words}] "


# Preformatted text keeps its spaces, tabs and blank lines: they are swapped for noncharacters (never
# text) while the rest is tidied, then swapped back.
_KEPT_SPACE, _KEPT_TAB, _KEPT_LINE_END = "\ufdd0", "\ufdd1", "\ufdd2"
_KEEP_WHITESPACE = str.maketrans({" ": _KEPT_SPACE, "\t": _KEPT_TAB, "\n": _KEPT_LINE_END + "\n"})
_RESTORE_WHITESPACE = str.maketrans({_KEPT_SPACE: " ", _KEPT_TAB: "\t"})


def render_text(events: Iterable[Event]) -> str:
    """Plain text: block elements on their own lines (blank line between blocks), a table's rows on
    consecutive lines with their cells tab-separated."""
    out: list[str] = []
    pre = 0
    for kind, value in events:
        if kind == TEXT:
            out.append(value.translate(_KEEP_WHITESPACE) if pre else value)
        elif value == "pre":
            pre = pre + 1 if kind == START else max(0, pre - 1)
            out.append("\n")
        elif value == "br":
            if kind == START:
                out.append("\n")
        elif value == "tr":
            if kind == END:  # rows on consecutive lines, no blank line between them
                out.append("\n")
        elif value in BLOCK_TAGS:
            out.append("\n")
        elif value in CELL_TAGS and kind == START:
            out.append("\t")
    return _tidy("".join(out)).translate(_RESTORE_WHITESPACE).replace(_KEPT_LINE_END, "")


def _tidy(text: str) -> str:
    lines = [_TABS.sub("\t", _SPACES.sub(" ", line)).strip() for line in text.split("\n")]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).strip("\n")


def render_markdown(events: Iterable[Event]) -> str:
    """CommonMark with GFM tables (see the module docstring)."""
    builder = _MarkdownBuilder()
    for kind, value in events:
        if kind == TEXT:
            builder.text(value)
        elif kind == START:
            builder.start(value)
        else:
            builder.end(value)
    builder.flush()
    return builder.result()


@dataclass
class _Table:
    rows: list[list[str]] = field(default_factory=list)
    cell: list[str] | None = None
    caption: list[str] = field(default_factory=list)
    in_caption: bool = False


@dataclass
class _List:
    ordered: bool
    count: int = 0


class _MarkdownBuilder:
    """Collects inline text and emits Markdown blocks as block elements open and close."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, str]] = []  # (kind, markdown); kind "item" joins tightly
        self.inline: list[str] = []
        self.tables: list[_Table] = []
        self.nested_tables = 0  # tables inside a cell are flattened into the cell's text
        self.lists: list[_List] = []
        self.marker: str | None = None  # an open list item's marker, until its first block is written
        self.heading_level = 0
        self.pre = 0

    def text(self, value: str) -> None:
        table = self.tables[-1] if self.tables else None
        if table is not None and table.cell is not None:
            table.cell.append(value)
        elif table is not None and table.in_caption:
            table.caption.append(value)
        elif self.pre:
            self.inline.append(value)
        else:
            self.inline.append(_INLINE_SPACE.sub(" ", value))

    def start(self, tag: str) -> None:
        table = self.tables[-1] if self.tables else None
        if table is not None and (table.cell is not None or table.in_caption):
            self._inside_cell(table, tag, opening=True)
            return
        if tag == "br":
            self.inline.append("\n")
        elif tag == "table":
            self.flush()
            self.tables.append(_Table())
        elif table is not None and tag == "tr":
            table.rows.append([])
        elif table is not None and tag in CELL_TAGS:
            table.cell = []
        elif table is not None and tag == "caption":
            table.in_caption = True
        elif tag in ("ul", "ol"):
            self.flush()
            self.lists.append(_List(ordered=tag == "ol"))
        elif tag == "li" and self.lists:
            self.flush()
            current = self.lists[-1]
            current.count += 1
            self.marker = f"{current.count}. " if current.ordered else "- "
        elif tag in _HEADINGS:
            self.flush()
            self.heading_level = _HEADINGS[tag]
        elif tag == "pre":
            self.flush()
            self.pre += 1
        elif tag in BLOCK_TAGS:
            self.flush()

    def end(self, tag: str) -> None:
        table = self.tables[-1] if self.tables else None
        if table is not None and (table.cell is not None or table.in_caption):
            self._inside_cell(table, tag, opening=False)
            return
        if table is not None and tag == "table":
            self.tables.pop()
            caption = " ".join("".join(table.caption).split())
            if caption:
                self.blocks.append(("p", escape_markdown(caption)))
            rows = [row for row in table.rows if any(cell.strip() for cell in row)]
            if rows:
                self.blocks.append(("table", markdown_table(rows)))
        elif tag in _HEADINGS:
            self.flush()
            self.heading_level = 0
        elif tag == "pre":
            self.flush()
            self.pre = max(0, self.pre - 1)
        elif tag in ("ul", "ol") and self.lists:
            self.flush()
            self.lists.pop()
            self.marker = None
        elif tag in BLOCK_TAGS:
            self.flush()

    def _inside_cell(self, table: _Table, tag: str, *, opening: bool) -> None:
        """Structure inside a cell or caption becomes line breaks in it, until the cell closes."""
        target = table.cell if table.cell is not None else table.caption
        if tag == "table":
            self.nested_tables += 1 if opening else -1
            target.append("\n")
            return
        if self.nested_tables == 0 and not opening and (tag in CELL_TAGS or tag == "caption"):
            if table.cell is not None and table.rows:
                table.rows[-1].append("".join(table.cell))
            elif table.cell is not None:
                table.rows.append(["".join(table.cell)])
            table.cell, table.in_caption = None, False
            return
        if tag in BLOCK_TAGS or tag == "br" or tag in CELL_TAGS:
            target.append("\n" if tag not in CELL_TAGS else " ")

    def flush(self) -> None:
        raw, self.inline = "".join(self.inline), []
        if self.pre:
            if raw.strip("\n"):
                fence = "`" * max(3, _longest_run(raw, "`") + 1)
                self.blocks.append(("pre", f"{fence}\n{raw.strip(chr(10))}\n{fence}"))
            return
        lines = [escape_markdown(" ".join(line.split())) for line in raw.split("\n")]
        lines = [line for line in lines if line]
        if not lines:
            return
        if self.heading_level:
            self.blocks.append(("h", heading(" ".join(raw.split()), self.heading_level)))
            return
        body = "\\\n".join(lines)
        if self.lists:
            indent = "".join(" " * (3 if item.ordered else 2) for item in self.lists[:-1])
            width = len(self.marker) if self.marker else (3 if self.lists[-1].ordered else 2)
            prefix = indent + (self.marker or " " * width)
            body = body.replace("\n", "\n" + indent + " " * width)
            self.blocks.append(("item" if self.marker else "p", prefix + body))
            self.marker = None
            return
        self.blocks.append(("p", body))

    def result(self) -> str:
        out: list[str] = []
        previous = ""
        for kind, block in self.blocks:
            if out:
                out.append("\n" if kind == "item" and previous == "item" else "\n\n")
            out.append(block)
            previous = kind
        return "".join(out)


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(run) for run in runs), default=0)
