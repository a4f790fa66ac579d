"""A streaming reader of OOXML worksheet parts (ECMA-376 Part 1 §18.3, ``sheetData``).

The sheet XML is parsed as a stream of events; each row is turned into text as soon as it ends and is
then dropped, so memory follows the cells the sheet really holds, never the extent it claims
(``dimension`` can lie and a single cell in column XFD is legal). Cell values follow §18.3.1.4 (``c``)
and §18.18.11 (ST_CellType): shared strings, inline rich text, booleans, errors, ISO dates, numbers
(shown as dates when their number format is one), and formula results. A formula saved without a
result (some writers never compute them) is shown as its formula text and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from docbatch.errors import DocumentTooLarge
from docbatch.processors.spreadsheet_grid import SheetText, column_letters
from docbatch.processors.spreadsheet_ooxml import MAIN_NS, WorkbookParts, unescape_xstring
from docbatch.processors.spreadsheet_values import number_text, serial_text

_PLAIN_INTEGER = re.compile(r"-?\d{1,15}")
# A cell reference in a formula, outside string literals: optional sheet prefix is left alone, the
# reference itself is column letters and row digits, each optionally absolute ($).
_FORMULA_TOKEN = re.compile(r'"(?:[^"]|"")*"|(?<![A-Za-z0-9_.$])(\$?)([A-Z]{1,3})(\$?)([0-9]{1,7})(?![0-9A-Za-z_(!])')


@dataclass
class SheetRead:
    """One worksheet's text and what the reader had to make up for: ``formulas_shown`` counts cells
    whose formula had no saved value (their formula text is shown instead); ``missing_strings`` counts
    cells pointing at a shared string the table does not hold (left empty); ``problem`` says why the
    sheet could only be read in part (None when it was read whole)."""

    text: SheetText
    formulas_shown: int = 0
    missing_strings: int = 0
    problem: str | None = None


@dataclass
class _SharedFormula:
    row: int
    column: int
    text: str


def read_worksheet(data: bytes, sheet: SheetText, workbook: WorkbookParts) -> SheetRead:
    """Read the worksheet XML ``data`` row by row into ``sheet``. Raises DocumentTooLarge (through the
    sheet's budget) when the workbook grows past its bounds; broken or unsafe XML (a DTD or entity
    declaration) ends the sheet with ``problem`` set and the rows before it kept."""
    reader = _SheetParser(workbook, sheet)
    result = SheetRead(text=sheet)
    try:
        reader.parse(data)
    except DocumentTooLarge:
        raise
    except Exception as error:  # expat's errors or our refusals, after the rows read so far
        result.problem = f"its XML is broken after row {reader.row} ({error}); the rows before are kept"
    result.formulas_shown = reader.formulas_shown
    result.missing_strings = reader.missing_strings
    return result


def _refuse(*_args: object) -> int:
    raise ValueError("DTDs and entity declarations are refused")


def _row_number(reference: str | None, previous: int) -> int:
    """The 1-based row number: ``r`` when present, else the row after the previous one."""
    if reference is not None and reference.isdigit():
        return int(reference)
    return previous + 1


# Element names as expat reports them with "}" as namespace separator, and without a namespace.
_NAMES = {name: name for name in ("row", "c", "v", "f", "is", "t", "rPh")}
_NAMES.update({f"{MAIN_NS[1:]}{name}": name for name in list(_NAMES)})


class _SheetParser:
    """Expat handlers that turn ``row``/``c`` events into ``(column, text)`` pairs row by row, with no
    element tree at all (pyexpat called directly: an ElementTree per cell costs several times more).
    DTDs and entity declarations are refused, as defusedxml does."""

    def __init__(self, workbook: WorkbookParts, sheet: SheetText) -> None:
        self.workbook = workbook
        self.sheet = sheet
        self.formulas_shown = 0
        self.missing_strings = 0
        self.shared: dict[str, _SharedFormula] = {}
        self.columns: dict[str, int] = {}
        self.row = 0
        self.cells: list[tuple[int, str]] = []
        self.column = -1  # the column of the last cell with content in this row
        # Cells without content are passed over without working out their column: the next cell's
        # column is then found from the last reference seen and the count of cells since it.
        self.anchor: str | None = None
        self.cells_since_anchor = 0
        self.cells_since_content = 0
        self.cell_attributes: dict[str, str] = {}
        self.value: str | None = None
        self.formula: tuple[str, dict[str, str]] | None = None
        self.inline: list[str] | None = None
        self.buffer: list[str] | None = None
        self.formula_attributes: dict[str, str] = {}
        self.phonetic = 0

    def parse(self, data: bytes) -> None:
        from xml.parsers import expat

        parser = expat.ParserCreate(namespace_separator="}")
        parser.buffer_text = True
        parser.StartDoctypeDeclHandler = _refuse
        parser.EntityDeclHandler = _refuse
        parser.UnparsedEntityDeclHandler = _refuse
        parser.ExternalEntityRefHandler = _refuse
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._characters
        parser.Parse(data, True)

    def _start(self, tag: str, attributes: dict[str, str]) -> None:
        name = _NAMES.get(tag)
        if name == "c":
            self.cell_attributes, self.value, self.formula, self.inline = attributes, None, None, None
        elif name == "v" or name == "f":
            self.buffer = []
            self.formula_attributes = attributes
        elif name == "t":
            if self.inline is not None and not self.phonetic:
                self.buffer = []
        elif name == "row":
            self.row = _row_number(attributes.get("r"), self.row)
            self.cells, self.column, self.anchor = [], -1, None
            self.cells_since_anchor = self.cells_since_content = 0
        elif name == "is":
            self.inline = []
        elif name == "rPh":
            self.phonetic += 1

    def _characters(self, text: str) -> None:
        if self.buffer is not None:
            self.buffer.append(text)

    def _end(self, tag: str) -> None:
        name = _NAMES.get(tag)
        if name is None:
            return
        collected = "".join(self.buffer) if self.buffer is not None else ""
        if name == "v":
            self.value = collected
        elif name == "f":
            self.formula = (collected, self.formula_attributes)
        elif name == "t" and self.inline is not None and self.buffer is not None:
            self.inline.append(collected)
        elif name == "c":
            self._end_cell()
        elif name == "row":
            cells = self.cells
            if any(cells[index][0] >= cells[index + 1][0] for index in range(len(cells) - 1)):
                cells.sort(key=lambda pair: pair[0])
            self.sheet.add_row(self.row, cells)
            self.cells = []
        elif name == "rPh":
            self.phonetic -= 1
        self.buffer = None

    def _end_cell(self) -> None:
        attributes = self.cell_attributes
        reference = attributes.get("r")
        if reference:
            self.anchor, self.cells_since_anchor = reference, 0
        else:
            self.cells_since_anchor += 1
        self.cells_since_content += 1
        if self.value is None and self.formula is None and self.inline is None:
            return  # an empty (styled) cell
        self.column = self._resolve_column()
        kind = attributes.get("t", "n")
        value = self.value
        if self.formula is not None:
            self._remember_shared_formula(self.formula)
        if kind == "inlineStr" and self.inline is not None:
            text = unescape_xstring("".join(self.inline))
        elif value is None or (value == "" and kind != "str"):
            text = self._formula_text(self.formula) if self.formula is not None else ""
        else:
            text = self._value_text(kind, value, attributes.get("s"))
        if text:
            self.cells.append((self.column, text))

    def _resolve_column(self) -> int:
        """The 0-based column of the current cell (``AB12`` -> 27); a cell without a readable ``r``
        is the one after the previous cell."""
        column = self.column + self.cells_since_content
        if self.anchor is not None:
            letters = self.anchor.rstrip("0123456789")
            found = self.columns.get(letters)
            if found is None and letters.isalpha() and letters.isascii():
                found = self.columns[letters] = _letters_to_index(letters.upper())
            if found is not None:
                column = found + self.cells_since_anchor
        self.anchor, self.cells_since_anchor, self.cells_since_content = None, 0, 0
        return column

    def _value_text(self, kind: str, value: str, style: str | None) -> str:
        if kind == "s":
            strings = self.workbook.shared_strings
            index = int(value) if value.strip().isdigit() else -1
            if 0 <= index < len(strings):
                return strings[index]
            self.missing_strings += 1
            return ""
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

    def _remember_shared_formula(self, formula: tuple[str, dict[str, str]]) -> None:
        """Keep a shared formula's master (the cell that writes its text, §18.3.1.40), whether or not
        the master has a saved value: its dependents may have none."""
        text, attributes = formula
        if text and attributes.get("t") == "shared":
            self.shared[attributes.get("si", "")] = _SharedFormula(self.row, self.column, text)

    def _formula_text(self, formula: tuple[str, dict[str, str]]) -> str:
        """``=FORMULA`` for a formula saved without a value; a shared formula's dependent cell gets
        the master's formula with its relative references moved by the offset (§18.3.1.40)."""
        text, attributes = formula
        if not text and attributes.get("t") == "shared":
            master = self.shared.get(attributes.get("si", ""))
            if master is not None:
                text = shift_references(master.text, self.row - master.row, self.column - master.column)
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
        return f"{column_absolute}{column_letters(column)}{row_absolute}{row}"

    return _FORMULA_TOKEN.sub(shift, formula)


def _letters_to_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + (ord(letter) - 64)
    return index - 1
