"""The parts of an OOXML workbook (XLSX, XLSM, XLTX, XLTM) a text reader needs, besides the sheets.

ECMA-376 Part 1 §18.2 (workbook: sheets in tab order, their visibility, the 1904 date system), §18.4
(shared string table: plain and rich-text items, phonetic runs), §18.8 (styles: number formats per
cell format). Strict OOXML is read through OpcPackage, which maps its namespaces to Transitional ones.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

from docbatch.errors import CorruptDocument
from docbatch.processors.opc import REL_NS, OpcPackage
from docbatch.processors.spreadsheet_values import DateKind, builtin_date_kind, format_date_kind

MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_R_ID = f"{{{REL_NS}}}id"
_ESCAPED_CHAR = re.compile(r"_x([0-9A-Fa-f]{4})_")

SHEET_KINDS = {
    "worksheet": "worksheet",
    "chartsheet": "chartsheet",
    "dialogsheet": "dialogsheet",
    "xlMacrosheet": "macrosheet",
    "xlIntlMacrosheet": "macrosheet",
}


@dataclass(frozen=True)
class SheetEntry:
    """One sheet in tab order: ``part`` is its part name, ``kind`` one of worksheet, chartsheet,
    dialogsheet, macrosheet; ``state`` is visible, hidden or veryHidden."""

    name: str
    part: str | None
    kind: str
    state: str

    @property
    def hidden(self) -> bool:
        return self.state in {"hidden", "veryHidden"}


@dataclass
class WorkbookParts:
    """What the sheets refer to: the sheets in order, the 1904 date system flag, the shared strings
    and, per cell format index (a cell's ``s``), how its number format shows numbers."""

    sheets: list[SheetEntry]
    date1904: bool
    shared_strings: list[str] = field(default_factory=list)
    date_kinds: list[DateKind | None] = field(default_factory=list)


class MissingWorkbookPart(CorruptDocument):
    """The package has no workbook part that its relationships lead to."""


def read_workbook(package: OpcPackage) -> WorkbookParts:
    """Read the workbook part, its shared strings and its styles. Raises MissingWorkbookPart when no
    relationship leads to the workbook part, CorruptDocument when it is unreadable."""
    try:
        workbook_part = package.main_part
    except CorruptDocument as error:
        raise MissingWorkbookPart(str(error)) from error
    root = package.xml(workbook_part)
    properties = root.find(f"{MAIN_NS}workbookPr")
    date1904 = properties is not None and properties.get("date1904", "0").lower() in {"1", "true"}
    relationships = {rel.id: rel for rel in package.relationships(workbook_part)}
    sheets = []
    for element in root.iter(f"{MAIN_NS}sheet"):
        rel = relationships.get(element.get(_R_ID, ""))
        part = rel.target if rel is not None and not rel.external and package.has(rel.target) else None
        kind = SHEET_KINDS.get(rel.type.rsplit("/", 1)[-1], "worksheet") if rel is not None else "worksheet"
        sheets.append(SheetEntry(element.get("name", ""), part, kind, element.get("state", "visible")))
    parts = WorkbookParts(sheets=sheets, date1904=date1904)
    for rel in relationships.values():
        if rel.external or not package.has(rel.target):
            continue
        if rel.is_a("sharedStrings"):
            parts.shared_strings = read_shared_strings(package.read(rel.target), rel.target)
        elif rel.is_a("styles"):
            parts.date_kinds = read_date_kinds(package.xml(rel.target))
    return parts


def read_shared_strings(data: bytes, part: str) -> list[str]:
    """The shared string items in order, each the text of all its runs (phonetic ``rPh`` runs left
    out), parsed as a stream so that a large table is never held as a tree."""
    from defusedxml.ElementTree import iterparse

    strings: list[str] = []
    try:
        for _event, element in iterparse(io.BytesIO(data), events=("end",), forbid_dtd=True):
            if element.tag == f"{MAIN_NS}si":
                strings.append(rich_text(element))
                element.clear()
    except Exception as error:  # ParseError or defusedxml's refusals: the table is unreadable
        raise CorruptDocument(f"{part}: unreadable shared strings: {error}") from error
    return strings


def rich_text(element: Any) -> str:
    """The text of a string item (``si`` or inline ``is``): its ``t``, or all its runs' ``t`` in
    order; phonetic runs (``rPh``, reading aids for East Asian text) are not part of the text."""
    pieces = []
    for child in element:
        if child.tag == f"{MAIN_NS}t":
            pieces.append(child.text or "")
        elif child.tag == f"{MAIN_NS}r":
            pieces.extend(run.text or "" for run in child.iter(f"{MAIN_NS}t"))
    return unescape_xstring("".join(pieces))


def unescape_xstring(text: str) -> str:
    """Undo the ``_xHHHH_`` escapes of ST_Xstring (ECMA-376 Part 1 §22.9.2.19): characters XML cannot
    carry are written as their UTF-16 code in hex; ``_x005F_`` is a literal underscore."""
    if "_x" not in text:
        return text
    return _ESCAPED_CHAR.sub(lambda match: chr(int(match.group(1), 16)), text)


def read_date_kinds(styles: Any) -> list[DateKind | None]:
    """Per cell format (``cellXfs/xf`` in order), whether its number format shows a date, a time,
    both, a duration, or (None) a number."""
    custom: dict[int, str] = {}
    formats = styles.find(f"{MAIN_NS}numFmts")
    for element in formats if formats is not None else []:
        format_id = _int(element.get("numFmtId"))
        if format_id is not None:
            custom[format_id] = element.get("formatCode", "")
    kinds: list[DateKind | None] = []
    cell_formats = styles.find(f"{MAIN_NS}cellXfs")
    for xf in cell_formats if cell_formats is not None else []:
        format_id = _int(xf.get("numFmtId")) or 0
        if format_id in custom:
            kinds.append(format_date_kind(custom[format_id]))
        else:
            kinds.append(builtin_date_kind(format_id))
    return kinds


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
