"""A sheet's cells laid out as text, sparsely: memory follows the cells a sheet really holds.

A sheet can claim (or really have) a cell in the last column and row (XFD1048576) while holding a
handful of values; laying it out as a rectangle would mean 17 billion empty cells. Here rows arrive
one at a time, each as its non-empty cells, and become one tab-separated line at once: a run of empty
columns inside a row keeps its tabs (so columns line up across rows) up to ``MAX_GAP_COLUMNS``, and a
run of empty rows becomes one blank line. Nothing is ever sized by a sheet's extent.

The budget (``CellBudget``) bounds what one workbook may hold in all: a workbook with more real cells
or more text than that fails as too large, naming the sheet where the bound was crossed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from docbatch.errors import DocumentTooLarge
from docbatch.processors.markup import markdown_table

MAX_GAP_COLUMNS = 10
# Bounds for one workbook: about a minute of reading and a few hundred MB at worst.
MAX_CELLS = 10_000_000
MAX_TEXT_CHARS = 200_000_000


@dataclass
class CellBudget:
    """Cells and characters a workbook may still produce; ``spend`` raises DocumentTooLarge (naming
    the sheet) as soon as either bound is crossed, before the rest of the sheet is read."""

    # Read when a budget is made, so that the module's bounds can be changed (tests, embedders).
    max_cells: int = field(default_factory=lambda: MAX_CELLS)
    max_chars: int = field(default_factory=lambda: MAX_TEXT_CHARS)
    cells: int = 0
    chars: int = 0

    def spend(self, sheet: str, cells: int, chars: int) -> None:
        self.cells += cells
        self.chars += chars
        reason = budget_exceeded(self.cells, self.chars, self.max_cells, self.max_chars)
        if reason is not None:
            raise DocumentTooLarge(f"sheet {sheet!r}: {reason}")


def budget_exceeded(cells: int, chars: int, max_cells: int = MAX_CELLS, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """Why a workbook holding ``cells`` non-empty cells and ``chars`` characters of cell text is too
    large to read, or None when it is within bounds."""
    if cells > max_cells:
        return f"more than {max_cells:,} non-empty cells in the workbook"
    if chars > max_chars:
        return f"more than {max_chars:,} characters of cell text in the workbook"
    return None


@dataclass
class SheetText:
    """The lines of one sheet, built row by row. ``add_row`` takes a row's non-empty cells as
    ``(column, text)`` pairs in column order (columns 0-based, rows increasing)."""

    name: str
    budget: CellBudget
    lines: list[str] = field(default_factory=list)
    first_columns: list[int] = field(default_factory=list)
    rows_with_data: int = 0
    comments: list[str] = field(default_factory=list)
    _last_row: int | None = None

    def add_row(self, row: int, cells: list[tuple[int, str]]) -> None:
        cells = [(column, text) for column, text in cells if text]
        if not cells:
            return
        if self._last_row is not None and row > self._last_row + 1 and self.lines:
            self.lines.append("")
            self.first_columns.append(-1)
        self._last_row = row
        parts: list[str] = []
        previous = cells[0][0]
        for column, text in cells:
            parts.append("\t" * min(column - previous, MAX_GAP_COLUMNS + 1))
            parts.append(cell_line_text(text))
            previous = column
        line = "".join(parts)
        self.budget.spend(self.name, len(cells), len(line))
        self.lines.append(line)
        self.first_columns.append(cells[0][0])
        self.rows_with_data += 1

    def rendered_lines(self) -> list[str]:
        """The lines, each indented by tabs for the empty columns between the sheet's first used
        column and the row's first cell (at most ``MAX_GAP_COLUMNS`` + 1)."""
        used = [column for column in self.first_columns if column >= 0]
        leftmost = min(used) if used else 0
        rendered = []
        for line, first in zip(self.lines, self.first_columns, strict=True):
            indent = min(first - leftmost, MAX_GAP_COLUMNS + 1) if first >= 0 else 0
            rendered.append("\t" * indent + line)
        return rendered

    def text(self) -> str:
        return "\n".join(self.rendered_lines())

    def markdown(self) -> str:
        """The sheet as one GFM table (first row as header; blank separator rows dropped)."""
        rows = [line.split("\t") for line in self.rendered_lines() if line]
        return markdown_table(rows)


def cell_line_text(text: str) -> str:
    """Cell text fit for one tab-separated line: tabs and line breaks become spaces."""
    if "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\r\n", " ").replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return text
