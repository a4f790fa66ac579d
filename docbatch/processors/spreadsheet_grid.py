"""A sheet's cells laid out as text, sparsely: memory follows the cells a sheet really holds.

A sheet can claim (or really have) a cell in the last column and row (XFD1048576) while holding a
handful of values; laying it out as a rectangle would mean 17 billion empty cells. Here rows arrive
one at a time, each as its non-empty cells, and become one tab-separated line at once: a run of empty
columns inside a row keeps its tabs (so columns line up across rows) up to ``MAX_GAP_COLUMNS`` (a longer
run is shortened and the cell after it says where it is, e.g. ``[M5000] text``), and a run of empty
rows becomes one blank line. Nothing is ever sized by a sheet's extent.

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
    """The lines of one sheet, built row by row. ``add_row`` takes a row's 1-based number and its
    non-empty cells as ``(column, text)`` pairs in column order (columns 0-based, rows increasing).

    A run of more than ``MAX_GAP_COLUMNS`` empty columns is shortened to that many tabs, and the cell
    after it starts with its reference (``[M5000] text``) so that its position is not lost; tabs and
    line breaks inside a cell become spaces in the tab-separated text (``flattened_cells`` counts
    those cells) while the Markdown table keeps the line breaks as ``<br>``."""

    name: str
    budget: CellBudget
    lines: list[str] = field(default_factory=list)
    first_columns: list[int] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    rows_with_data: int = 0
    comments: list[str] = field(default_factory=list)
    flattened_cells: int = 0
    _gap_inside_row_shortened: bool = False
    _last_row: int | None = None

    def add_row(self, row: int, cells: list[tuple[int, str]]) -> None:
        cells = [(column, text) for column, text in cells if text]
        if not cells:
            return
        if self._last_row is not None and row > self._last_row + 1 and self.lines:
            self.lines.append("")
            self.first_columns.append(-1)
            self.row_numbers.append(-1)
        self._last_row = row
        parts: list[str] = []
        previous = cells[0][0]
        for column, text in cells:
            if column - previous > MAX_GAP_COLUMNS + 1:
                self._gap_inside_row_shortened = True
                parts.append("\t" * (MAX_GAP_COLUMNS + 1) + f"[{cell_reference(row, column)}] ")
            else:
                parts.append("\t" * (column - previous))
            parts.append(self._cell_text(text))
            previous = column
        line = "".join(parts)
        self.budget.spend(self.name, len(cells), len(line))
        self.lines.append(line)
        self.first_columns.append(cells[0][0])
        self.row_numbers.append(row)
        self.rows_with_data += 1

    def _cell_text(self, text: str) -> str:
        """The cell's text as stored in a line: tabs (the column separator) become spaces and every
        line break becomes a line feed, which ``text`` turns into a space and ``markdown`` into ``<br>``."""
        if "\t" in text or "\n" in text or "\r" in text:
            self.flattened_cells += 1
            return text.replace("\t", " ").replace("\r\n", "\n").replace("\r", "\n")
        return text

    def _leftmost_column(self) -> int:
        used = [column for column in self.first_columns if column >= 0]
        return min(used) if used else 0

    def rendered_lines(self) -> list[str]:
        """The lines, each indented by tabs for the empty columns between the sheet's first used
        column and the row's first cell (at most ``MAX_GAP_COLUMNS`` + 1, the first cell then carrying
        its reference); cells keep their line breaks as line feeds."""
        leftmost = self._leftmost_column()
        rendered = []
        for line, first, row in zip(self.lines, self.first_columns, self.row_numbers, strict=True):
            indent = first - leftmost if first >= 0 else 0
            if indent > MAX_GAP_COLUMNS + 1:
                line = "\t" * (MAX_GAP_COLUMNS + 1) + f"[{cell_reference(row, first)}] " + line
            else:
                line = "\t" * indent + line
            rendered.append(line)
        return rendered

    def gaps_shortened(self) -> bool:
        """True when some run of empty columns was shortened (its next cell then carries its reference)."""
        if self._gap_inside_row_shortened:
            return True
        leftmost = self._leftmost_column()
        return any(first - leftmost > MAX_GAP_COLUMNS + 1 for first in self.first_columns if first >= 0)

    def layout_warnings(self) -> list[str]:
        """What the layout changed on this sheet, in words naming it (nothing when it changed nothing)."""
        if not self.gaps_shortened():
            return []
        return [
            f"sheet {self.name!r}: runs of more than {MAX_GAP_COLUMNS} empty columns were shortened; "
            "the cells after them carry their reference"
        ]

    def text(self) -> str:
        """The sheet as tab-separated lines; line breaks inside cells become spaces."""
        lines = self.rendered_lines()
        if self.flattened_cells:
            lines = [line.replace("\n", " ") for line in lines]
        return "\n".join(lines)

    def markdown(self) -> str:
        """The sheet as one GFM table (first row as header; blank separator rows dropped; line breaks
        inside cells as ``<br>``)."""
        rows = [line.split("\t") for line in self.rendered_lines() if line]
        return markdown_table(rows)


def flattened_cells_warning(count: int) -> str | None:
    """The warning for ``count`` cells of a workbook whose tabs or line breaks became spaces in the
    text, or None when there were none."""
    if not count:
        return None
    held = "1 cell holds" if count == 1 else f"{count} cells hold"
    return f"{held} tabs or line breaks, shown as spaces in the text; the Markdown keeps line breaks as <br>"


def cell_reference(row: int, column: int) -> str:
    """The A1 reference of a cell from its 1-based row and 0-based column (row 5000, column 12 -> M5000)."""
    return f"{column_letters(column)}{row}"


def column_letters(index: int) -> str:
    """The letters of a 0-based column index (0 -> A, 25 -> Z, 26 -> AA, 16383 -> XFD)."""
    letters = ""
    index += 1
    while index > 0:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters
