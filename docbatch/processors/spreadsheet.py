"""Spreadsheets (XLSX, XLSM, XLS, XLSB, ODS) through calamine: every sheet, one page per sheet."""

from __future__ import annotations

import datetime
from typing import Any, ClassVar

from docbatch.errors import CorruptDocument, EncryptedDocument
from docbatch.models import Extraction, Page
from docbatch.processors.base import Processor, SourceFile


class SpreadsheetProcessor(Processor):
    name = "spreadsheet"
    kinds: ClassVar[tuple[str, ...]] = ("spreadsheet",)
    library = "python-calamine"
    description = "every sheet as tab-separated rows, one page per sheet"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        from python_calamine import CalamineWorkbook

        try:
            workbook = CalamineWorkbook.from_path(str(source.path))
        except Exception as error:  # calamine raises its own exception types per format
            message = str(error)
            if any(word in message.lower() for word in ("password", "encrypt")):
                raise EncryptedDocument("password-protected workbook") from error
            raise CorruptDocument(f"calamine cannot open it: {message}") from error
        pages: list[Page] = []
        rows_per_sheet: dict[str, int] = {}
        warnings: list[str] = []
        for number, name in enumerate(workbook.sheet_names, start=1):
            try:
                rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=True)
            except Exception as error:  # one unreadable sheet does not lose the others
                warnings.append(f"sheet {name!r}: {error}")
                rows = []
            lines = [_row_text(row) for row in rows]
            while lines and not lines[-1]:
                lines.pop()
            rows_per_sheet[name] = len(lines)
            pages.append(Page(number=number, text="\n".join(lines), label=name))
        metadata: dict[str, Any] = {"sheets": len(pages), "rows_per_sheet": rows_per_sheet}
        return Extraction.from_pages("spreadsheet", pages, metadata=metadata, warnings=warnings)


def _row_text(row: list[Any]) -> str:
    cells = [_cell_text(value) for value in row]
    while cells and not cells[-1]:
        cells.pop()
    return "\t".join(cells)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return " ".join(str(value).split("\t")).replace("\n", " ")
