"""Spreadsheets: every sheet in tab order as one page headed by its name, also as a Markdown table.

OOXML workbooks (XLSX, XLSM, XLTX, XLTM, Strict) are read by our own streaming reader
(spreadsheet_xlsx): it never sizes anything by a sheet's claimed extent, shows formulas saved without
a value as their formula text, and reads charts. calamine does not offer those (it lays a sheet out
as a dense rectangle and hides formulas without values), so it reads the binary and OpenDocument
forms it is good at (XLS, XLSB, ODS; spreadsheet_calamine) after their extent is checked.
"""

from __future__ import annotations

import zipfile
from typing import ClassVar

from pydantic import JsonValue

from docbatch.models import Extraction, Page
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.spreadsheet_grid import CellBudget

_ZIP_MAGIC = b"PK\x03\x04"


class SpreadsheetProcessor(Processor):
    name = "spreadsheet"
    kinds: ClassVar[tuple[str, ...]] = ("spreadsheet",)
    library = "python-calamine"
    description = "every sheet as tab-separated rows headed by its name, one page per sheet; charts as text"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        """Raises EncryptedDocument, CorruptDocument, or DocumentTooLarge (naming the sheet) when a
        workbook holds more cells than spreadsheet_grid's bounds."""
        budget = CellBudget()
        if source.head.startswith(_ZIP_MAGIC) and _is_ooxml_workbook(source):
            from docbatch.processors.spreadsheet_ooxml import MissingWorkbookPart
            from docbatch.processors.spreadsheet_xlsx import read_ooxml

            try:
                book = read_ooxml(source.path, budget, wants_markdown=source.wants_markdown)
            except MissingWorkbookPart:
                # Package relationships we cannot follow (e.g. part names written with backslashes):
                # calamine finds the workbook by its usual name.
                return _calamine_extraction(source, CellBudget())
            return Extraction.from_pages(
                "spreadsheet", book.pages, title=book.title, metadata=book.metadata, warnings=book.warnings
            )
        return _calamine_extraction(source, budget)


def _is_ooxml_workbook(source: SourceFile) -> bool:
    """True for a ZIP holding an XML workbook part (XLSB's binary one and ODS go to calamine)."""
    try:
        with zipfile.ZipFile(source.path) as archive:
            names = {name.lower().lstrip("/") for name in archive.namelist()}
    except (zipfile.BadZipFile, OSError, ValueError):
        return True  # OpcPackage reports the broken container in words
    if "xl/workbook.bin" in names:
        return False
    return any(name.endswith("workbook.xml") for name in names) or "[content_types].xml" in names


def _calamine_extraction(source: SourceFile, budget: CellBudget) -> Extraction:
    from docbatch.processors.spreadsheet_calamine import read_with_calamine

    warnings: list[str] = []
    sheets = read_with_calamine(source.path, budget, warnings)
    pages = []
    for number, sheet in enumerate(sheets, start=1):
        heading = f"Chart sheet: {sheet.name}" if sheet.chart_sheet else f"Sheet: {sheet.name}"
        body = sheet.text()
        text = f"{heading}\n\n{body}" if body.strip() else heading
        markdown = sheet.markdown() if source.wants_markdown else None
        pages.append(Page(number=number, text=text, label=sheet.name, markdown=markdown))
    metadata: dict[str, JsonValue] = {
        "sheets": len(sheets),
        "rows_per_sheet": {sheet.name: sheet.rows_with_data for sheet in sheets},
    }
    hidden = sum(1 for sheet in sheets if sheet.hidden)
    if hidden:
        metadata["hidden_sheets"] = hidden
    return Extraction.from_pages("spreadsheet", pages, metadata=metadata, warnings=warnings)
