"""The blocks read from a Word story, and how they become plain text and Markdown.

Plain text: one line per paragraph (a line break inside a paragraph stays a line break), list items
with their number or "•" and two spaces of indent per list level, a table row as its cells joined by
" | " (each cell's content up to its first nested table); then, cell by cell and in document order,
the rest of each cell indented: the nested table's rows and whatever follows it. A chart as its text form.

Markdown (CommonMark 0.31 with GFM tables): paragraphs separated by blank lines, headings as ATX
headings, list items as "- " or "N." items nested by four spaces per level, tables as GFM pipe tables
(a nested table's rows inside its cell, one per ``<br>`` line), charts as their Markdown form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from docbatch.processors.charts import Chart
from docbatch.processors.markup import escape_markdown, heading, markdown_table
from docbatch.processors.word_numbering import ListLabel


@dataclass
class Paragraph:
    """A paragraph: its text (tabs and line breaks kept), ``outline_level`` 0-8 for headings,
    ``is_title`` for the Title style, ``label`` its automatic number or bullet."""

    text: str
    outline_level: int | None = None
    is_title: bool = False
    label: ListLabel | None = None

    def line(self) -> str:
        """The paragraph as plain text with its number, "" when it shows nothing."""
        text = self.text.strip("\n")
        if self.label is None:
            return text if text.strip() else ""
        separator = " " if self.label.separated and text else ""
        indent = "" if self.outline_level is not None else "  " * self.label.level
        return f"{indent}{self.label.text}{separator}{text}"


@dataclass
class Cell:
    """A table cell: its blocks and how many grid columns it spans (``w:gridSpan``)."""

    blocks: list[Block]
    span: int = 1


@dataclass
class Table:
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class ChartBlock:
    chart: Chart


Block: TypeAlias = Paragraph | Table | ChartBlock


def text_lines(blocks: list[Block], indent: str = "") -> list[str]:
    """The blocks as plain-text lines (empty paragraphs left out)."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Paragraph):
            line = block.line()
            if line:
                lines.append(indent + line)
        elif isinstance(block, Table):
            for row in block.rows:
                line = " | ".join(_cell_line(_leading_blocks(cell)) for cell in row)
                if line.strip(" |"):
                    lines.append(indent + line)
                for cell in row:
                    lines.extend(text_lines(cell.blocks[len(_leading_blocks(cell)) :], indent + "  "))
        else:
            lines.extend(indent + line for line in block.chart.text().splitlines())
    return lines


def _leading_blocks(cell: Cell) -> list[Block]:
    """A cell's blocks before its first nested table (all of them when it has none)."""
    for index, block in enumerate(cell.blocks):
        if isinstance(block, Table):
            return cell.blocks[:index]
    return cell.blocks


def _cell_line(blocks: list[Block]) -> str:
    """Blocks of a cell (no nested table among them) on one line, whitespace collapsed."""
    return " ".join(" ".join(text_lines(blocks)).split())


def _cell_markdown_text(cell: Cell) -> str:
    """A cell's content for a Markdown table: one line per paragraph and per nested-table row."""
    return "\n".join(text_lines(cell.blocks))


def markdown(blocks: list[Block]) -> str:
    """The blocks as Markdown: blank lines between blocks, none between the items of one list."""
    chunks: list[str] = []
    previous_level: int | None = None  # list level of the previous chunk, None when it is no list item
    for block in blocks:
        if isinstance(block, Paragraph):
            chunk, level = _paragraph_markdown(block, previous_level)
            if not chunk:
                continue
            if level is not None and previous_level is not None:
                chunks[-1] += "\n" + chunk  # the next item of the same (tight) list
            else:
                chunks.append(chunk)
            previous_level = level
        elif isinstance(block, Table):
            chunks.append(_table_markdown(block))
            previous_level = None
        else:
            chunks.append(block.chart.markdown())
            previous_level = None
    return "\n\n".join(chunks)


def _table_markdown(table: Table) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row:
            cells.append(_cell_markdown_text(cell))
            cells.extend([""] * (max(cell.span, 1) - 1))  # keep the columns of a spanning cell aligned
        rows.append(cells)
    return markdown_table(rows)


def _lines_markdown(text: str) -> str:
    """Lines of one paragraph, escaped, joined by CommonMark hard line breaks (a backslash at line end)."""
    lines = [escape_markdown(line.strip()) for line in text.split("\n") if line.strip()]
    return "\\\n".join(lines)


def _paragraph_markdown(paragraph: Paragraph, previous_level: int | None) -> tuple[str, int | None]:
    """The paragraph's Markdown and its list level (None when it is no list item)."""
    label = paragraph.label
    text = paragraph.text.strip("\n")
    if paragraph.outline_level is not None or (paragraph.is_title and label is None):
        shown = paragraph.line().strip()
        level = 1 if paragraph.outline_level is None else paragraph.outline_level + 1
        return (heading(shown, level) if shown else ""), None
    if label is None:
        return _lines_markdown(text), None
    # A nested item needs a parent item just before it; a deeper level than that would read as code.
    level = 0 if previous_level is None else min(label.level, previous_level + 1)
    if label.bullet:
        marker = "- "
    elif label.ordinal is not None:
        marker = f"{label.ordinal}{label.delimiter} "
    else:
        marker = f"- {escape_markdown(label.text)} "
    return "    " * level + marker + _lines_markdown(text), level
