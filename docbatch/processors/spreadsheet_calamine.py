"""XLS (BIFF), XLSB and ODS workbooks through calamine, with their extent checked first.

calamine lays a sheet out as a dense rectangle from its first to its last cell. That is harmless for
XLS (BIFF8 stops at 65,536 rows by 256 columns) and ODS (calamine bounds its cells itself), but an
XLSB sheet may place one cell in the last column and row, and the rectangle would then take hundreds
of GB: the Rust allocator aborts the process. So each XLSB worksheet's records are scanned first
([MS-XLSB] §2.1.4 record layout, §2.4.726 BrtRowHdr, §2.5.9 Cell, §2.4.820 BrtWsDim) and a sheet
whose rectangle would exceed ``MAX_GRID_CELLS`` fails the document as too large, naming the sheet.
"""

from __future__ import annotations

import datetime
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docbatch.errors import CorruptDocument, DocumentTooLarge, EncryptedDocument
from docbatch.processors.spreadsheet_grid import CellBudget, SheetText, flattened_cells_warning
from docbatch.processors.spreadsheet_values import datetime_text, duration_text, number_text
from docbatch.processors.ziputil import check_archive

# About 1.3 GB of calamine cells (40 bytes each): larger rectangles fail as too large.
MAX_GRID_CELLS = 32_000_000

_ROW_HEADER = 0
_CELL_RECORDS = frozenset({*range(1, 12), 62})  # BrtCellBlank .. BrtFmlaError, BrtCellRString
_WORKSHEET_DIMENSION = 148  # BrtWsDim


def read_with_calamine(path: Path, budget: CellBudget, warnings: list[str]) -> list[CalamineSheetText]:
    """Every sheet of an XLS, XLSB or ODS workbook, in order; a sheet calamine cannot read is left
    empty with a warning. Raises EncryptedDocument, CorruptDocument (calamine cannot open it) or
    DocumentTooLarge (a sheet's extent, or the budget)."""
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    if zipfile.is_zipfile(path):
        check_xlsb_extent(path)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as error:  # calamine raises its own exception types per format
        raise _open_error(error) from error
    sheets = []
    with workbook:
        for metadata in workbook.sheets_metadata:
            sheet = CalamineSheetText(metadata.name, budget)
            sheet.hidden = metadata.visible != SheetVisibleEnum.Visible
            sheet.chart_sheet = metadata.typ == SheetTypeEnum.ChartSheet
            sheets.append(sheet)
            try:
                rows = workbook.get_sheet_by_name(metadata.name)
            except Exception as error:  # one unreadable sheet does not lose the others
                if "cell limit" in str(error).lower():
                    raise DocumentTooLarge(f"sheet {metadata.name!r}: more cells than calamine allows") from error
                if not sheet.chart_sheet:
                    warnings.append(f"sheet {metadata.name!r} cannot be read: {error}")
                continue
            _fill(sheet, rows)
            warnings.extend(sheet.layout_warnings())
    flattened = flattened_cells_warning(sum(sheet.flattened_cells for sheet in sheets))
    if flattened:
        warnings.append(flattened)
    return sheets


@dataclass
class CalamineSheetText(SheetText):
    """A sheet read by calamine, with what its metadata says about it."""

    hidden: bool = False
    chart_sheet: bool = False


def _fill(sheet: SheetText, rows: Any) -> None:
    if rows.height * rows.width > MAX_GRID_CELLS:
        raise DocumentTooLarge(f"sheet {sheet.name!r}: {rows.height} rows by {rows.width} columns")
    # python-calamine (0.9) yields every row from the sheet's first (leading empty rows included) but
    # each row's values only from the first used column on.
    first_column = rows.start[1] if rows.start else 0
    for index, row in enumerate(rows.iter_rows()):
        cells = [(first_column + column, _cell_text(value)) for column, value in enumerate(row) if value != ""]
        sheet.add_row(index + 1, cells)


def _open_error(error: Exception) -> Exception:
    message = str(error)
    lowered = message.lower()
    if "password" in lowered or "encrypt" in lowered:
        return EncryptedDocument("password-protected workbook")
    if "cell limit" in lowered:
        return DocumentTooLarge(f"more cells than calamine allows: {message}")
    return CorruptDocument(f"calamine cannot open it: {message}")


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return datetime_text(value)
    if isinstance(value, datetime.timedelta):
        return duration_text(value)
    return str(value)


def check_xlsb_extent(path: Path) -> None:
    """For an XLSB package, raise DocumentTooLarge when a worksheet's cells (or its declared dimension)
    span more than ``MAX_GRID_CELLS``; other ZIPs (ODS) are left alone."""
    with zipfile.ZipFile(path) as archive:
        names = [name for name in archive.namelist() if name.lower().endswith(".bin") and "/worksheets/" in name]
        if not names:
            return
        check_archive(archive)
        for name in names:
            area = xlsb_sheet_area(archive.read(name))
            if area > MAX_GRID_CELLS:
                raise DocumentTooLarge(f"worksheet {name!r} spans {area:,} cells (over {MAX_GRID_CELLS:,})")


def xlsb_sheet_area(data: bytes) -> int:
    """The number of cells calamine would lay out for one XLSB worksheet part: the larger of the
    declared dimension's area and the area spanned by its cell records."""
    declared = 0
    first_row = first_column = 1 << 32
    last_row = last_column = -1
    row = 0
    position, end = 0, len(data)
    while position < end:
        record, position = _varint(data, position, 2)
        size, position = _varint(data, position, 4)
        body = position
        position += size
        if position > end:
            break
        if record == _ROW_HEADER and size >= 4:
            row = struct.unpack_from("<I", data, body)[0]
        elif record in _CELL_RECORDS and size >= 4:
            column = struct.unpack_from("<I", data, body)[0]
            first_row, last_row = min(first_row, row), max(last_row, row)
            first_column, last_column = min(first_column, column), max(last_column, column)
        elif record == _WORKSHEET_DIMENSION and size >= 16:
            top, bottom, left, right = struct.unpack_from("<IIII", data, body)
            declared = max(0, bottom - top + 1) * max(0, right - left + 1)
    spanned = (last_row - first_row + 1) * (last_column - first_column + 1) if last_row >= 0 else 0
    return max(declared, spanned)


def _varint(data: bytes, position: int, max_bytes: int) -> tuple[int, int]:
    """A little-endian base-128 number of at most ``max_bytes`` bytes ([MS-XLSB] §2.1.4)."""
    value = 0
    for index in range(max_bytes):
        if position >= len(data):
            break
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << (7 * index)
        if not byte & 0x80:
            break
    return value, position
