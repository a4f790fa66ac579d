"""A streaming reader of OOXML worksheet parts (ECMA-376 Part 1 §18.3, ``sheetData``).

The sheet XML is parsed as a stream of events; each row is turned into text as soon as it ends and is
then dropped, so memory follows the cells the sheet really holds, never the extent it claims
(``dimension`` can lie and a single cell in column XFD is legal). Cell values follow §18.3.1.4 (``c``)
and §18.18.11 (ST_CellType): shared strings, inline rich text, booleans, errors, ISO dates, numbers
(shown as dates when their number format is one), and formula results. A formula saved without a
result (some writers never compute them) is shown as its formula text and counted.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from docbatch.errors import DocumentTooLarge
from docbatch.processors.spreadsheet_grid import SheetText
from docbatch.processors.spreadsheet_ooxml import MAIN_NS, WorkbookParts, rich_text, unescape_xstring
from docbatch.processors.spreadsheet_values import number_text, serial_text

_ROW, _CELL, _SHEET_DATA = f"{MAIN_NS}row", f"{MAIN_NS}c", f"{MAIN_NS}sheetData"
_VALUE, _FORMULA, _INLINE = f"{MAIN_NS}v", f"{MAIN_NS}f", f"{MAIN_NS}is"
_PLAIN_INTEGER = re.compile(r"-?\d{1,15}")
# A cell reference in a formula, outside string literals: optional sheet prefix is left alone, the
# reference itself is column letters and row digits, each optionally absolute ($).
_FORMULA_TOKEN = re.compile(r'"(?:[^"]|"")*"|(?<![A-Za-z0-9_.$])(\$?)([A-Z]{1,3})(\$?)([0-9]{1,7})(?![0-9A-Za-z_(!])')


@dataclass
class SheetRead:
    """One worksheet's text and what the reader had to make up for: ``formulas_shown`` counts cells
    whose formula had no saved value (their formula text is shown instead); ``problem`` says why the
    sheet could only be read in part (None when it was read whole)."""

    text: SheetText
    formulas_shown: int = 0
    problem: str | None = None


@dataclass
class _SharedFormula:
    row: int
    column: int
    text: str


def read_worksheet(data: bytes, sheet: SheetText, workbook: WorkbookParts) -> SheetRead:
    """Read the worksheet XML ``data`` row by row into ``sheet``. Raises DocumentTooLarge (through the
    sheet's budget) when the workbook grows past its bounds; broken XML ends the sheet with ``problem``
    set and the rows before it kept."""
    from defusedxml.ElementTree import iterparse

    reader = _CellReader(workbook)
    result = SheetRead(text=sheet)
    sheet_data: Any = None
    row_number = 0
    try:
        for event, element in iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True):
            if event == "start":
                if element.tag == _SHEET_DATA:
                    sheet_data = element
                continue
            if element.tag != _ROW:
                continue
            row_number = _row_number(element.get("r"), row_number)
            sheet.add_row(row_number, reader.row_cells(element, row_number))
            if sheet_data is not None:
                sheet_data.clear()  # the row is done: drop it (and any already parsed) from the tree
    except DocumentTooLarge:
        raise
    except Exception as error:  # ParseError or defusedxml's refusals, after the rows read so far
        result.problem = f"its XML is broken after row {row_number} ({error}); the rows before are kept"
    result.formulas_shown = reader.formulas_shown
    return result


def _row_number(reference: str | None, previous: int) -> int:
    """The 1-based row number: ``r`` when present, else the row after the previous one."""
    if reference is not None and reference.isdigit():
        return int(reference)
    return previous + 1


class _CellReader:
    """Turns ``c`` elements into ``(column, text)`` pairs, remembering shared formulas."""

    def __init__(self, workbook: WorkbookParts) -> None:
        self.workbook = workbook
        self.formulas_shown = 0
        self.shared: dict[str, _SharedFormula] = {}
        self.columns: dict[str, int] = {}

    def row_cells(self, row: Any, row_number: int) -> list[tuple[int, str]]:
        cells: list[tuple[int, str]] = []
        column = -1
        for cell in row:
            if cell.tag != _CELL:
                continue
            column = self._column(cell.get("r"), column)
            text = self._cell_text(cell, row_number, column)
            if text:
                cells.append((column, text))
        if any(cells[index][0] >= cells[index + 1][0] for index in range(len(cells) - 1)):
            cells.sort(key=lambda pair: pair[0])
        return cells

    def _column(self, reference: str | None, previous: int) -> int:
        """The 0-based column of a reference such as ``AB12``; the next column when ``r`` is absent."""
        if not reference:
            return previous + 1
        letters = reference.rstrip("0123456789")
        found = self.columns.get(letters)
        if found is None:
            found = 0
            for letter in letters.upper():
                found = found * 26 + (ord(letter) - 64)
            found -= 1
            if found < 0 or not letters.isalpha():
                return previous + 1
            self.columns[letters] = found
        return found

    def _cell_text(self, cell: Any, row: int, column: int) -> str:
        value: str | None = None
        formula: Any = None
        inline: Any = None
        for child in cell:
            if child.tag == _VALUE:
                value = child.text
            elif child.tag == _FORMULA:
                formula = child
            elif child.tag == _INLINE:
                inline = child
        kind = cell.get("t", "n")
        if kind == "inlineStr" and inline is not None:
            return rich_text(inline)
        if value is None or (value == "" and kind != "str"):
            return self._formula_text(formula, row, column) if formula is not None else ""
        return self._value_text(kind, value, cell.get("s"))

    def _value_text(self, kind: str, value: str, style: str | None) -> str:
        if kind == "s":
            strings = self.workbook.shared_strings
            index = int(value) if value.strip().isdigit() else -1
            return strings[index] if 0 <= index < len(strings) else ""
        if kind in {"str", "inlineStr"}:
            return unescape_xstring(value)
        if kind == "b":
            return "TRUE" if value.strip() in {"1", "true"} else "FALSE"
        if kind in {"e", "d"}:
            return value
        return self._number_text(value.strip(), style)

    def _number_text(self, value: str, style: str | None) -> str:
        kinds = self.workbook.date_kinds
        date_kind = kinds[int(style)] if style and style.isdigit() and int(style) < len(kinds) else None
        if date_kind is None and _PLAIN_INTEGER.fullmatch(value):
            return value if value.startswith("-") else (value.lstrip("0") or "0")
        try:
            number = float(value)
        except ValueError:
            return value  # not a number after all: shown as written
        if date_kind is not None:
            shown = serial_text(number, date_kind, self.workbook.date1904)
            if shown is not None:
                return shown
        return number_text(number)

    def _formula_text(self, formula: Any, row: int, column: int) -> str:
        """``=FORMULA`` for a formula saved without a value; a shared formula's dependent cell gets
        the master's formula with its relative references moved by the offset (§18.3.1.40)."""
        text = formula.text or ""
        if formula.get("t") == "shared":
            index = formula.get("si", "")
            if text:
                self.shared[index] = _SharedFormula(row, column, text)
            elif index in self.shared:
                master = self.shared[index]
                text = shift_references(master.text, row - master.row, column - master.column)
        if not text:
            return ""
        self.formulas_shown += 1
        return "=" + text


def shift_references(formula: str, rows: int, columns: int) -> str:
    """``formula`` with its relative A1 references moved by ``rows`` and ``columns`` (absolute parts,
    marked ``$``, and text in string literals stay as written)."""

    def shift(match: re.Match[str]) -> str:
        if match.group(2) is None:
            return match.group(0)  # a string literal
        column_absolute, letters, row_absolute, digits = match.groups()
        column = _letters_to_index(letters)
        if not column_absolute:
            column += columns
        row = int(digits) + (0 if row_absolute else rows)
        if column < 0 or row < 1:
            return match.group(0)
        return f"{column_absolute}{_index_to_letters(column)}{row_absolute}{row}"

    return _FORMULA_TOKEN.sub(shift, formula)


def _letters_to_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + (ord(letter) - 64)
    return index - 1


def _index_to_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters
