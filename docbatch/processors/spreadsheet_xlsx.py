"""OOXML workbooks (XLSX, XLSM, XLTX, XLTM, Strict too) read by our own streaming reader.

Every sheet in tab order becomes a page headed by its name: worksheets (also hidden ones, dialog and
macro sheets) give their cells and then the charts drawn on them; chart sheets give their chart.
Charts are found as Excel links them (ECMA-376 Part 1 §18.3.1.36 ``drawing``: sheet -> drawing part
-> chart parts) and read by docbatch.processors.charts from the values the chart caches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from docbatch.errors import CorruptDocument
from docbatch.models import Page
from docbatch.processors.charts import read_chart
from docbatch.processors.markup import escape_markdown
from docbatch.processors.opc import REL_NS, OpcPackage
from docbatch.processors.spreadsheet_grid import CellBudget, SheetText, flattened_cells_warning
from docbatch.processors.spreadsheet_ooxml import MAIN_NS, SheetEntry, WorkbookParts, read_workbook, rich_text
from docbatch.processors.spreadsheet_sheetxml import read_worksheet

_R_ID = f"{{{REL_NS}}}id"


@dataclass
class WorkbookText:
    """A workbook as pages (one per sheet), with metadata and warnings for the Extraction."""

    pages: list[Page] = field(default_factory=list)
    metadata: dict[str, JsonValue] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    title: str | None = None


def read_ooxml(path: Path, budget: CellBudget | None = None, *, wants_markdown: bool = True) -> WorkbookText:
    """Read an OOXML workbook; pages carry Markdown only when ``wants_markdown``. Raises CorruptDocument
    (unreadable package or workbook part) and DocumentTooLarge (a decompression bomb, or more cells than
    ``budget`` allows, naming the sheet)."""
    budget = budget or CellBudget()
    with OpcPackage(path) as package:
        workbook = read_workbook(package)
        if not workbook.sheets:
            raise CorruptDocument("the workbook lists no sheets")
        result = WorkbookText()
        rows_per_sheet: dict[str, JsonValue] = {}
        formulas_shown = charts = flattened_cells = 0
        for number, entry in enumerate(workbook.sheets, start=1):
            sheet = SheetText(entry.name, budget)
            shown, sheet_charts = _read_sheet(package, entry, workbook, sheet, result.warnings)
            formulas_shown += shown
            charts += len(sheet_charts)
            flattened_cells += sheet.flattened_cells
            rows_per_sheet[entry.name] = sheet.rows_with_data
            page = _page(number, entry, sheet, sheet_charts)
            if wants_markdown:
                page.markdown = _page_markdown(sheet, sheet_charts)
            result.pages.append(page)
        result.metadata = _metadata(package, workbook, rows_per_sheet, charts)
        title = package.core_properties().get("title")
        result.title = title if isinstance(title, str) else None
    if formulas_shown:
        result.warnings.append(_formula_warning(formulas_shown))
    flattened = flattened_cells_warning(flattened_cells)
    if flattened:
        result.warnings.append(flattened)
    return result


def _read_sheet(
    package: OpcPackage, entry: SheetEntry, workbook: WorkbookParts, sheet: SheetText, warnings: list[str]
) -> tuple[int, list[Any]]:
    """Fill ``sheet`` from the sheet's part; return the count of formulas shown as text and its charts."""
    if entry.part is None:
        warnings.append(f"sheet {entry.name!r}: its part is missing from the package; nothing read")
        return 0, []
    shown = 0
    if entry.kind != "chartsheet":
        read = read_worksheet(package.read(entry.part), sheet, workbook)
        shown = read.formulas_shown
        if read.problem:
            warnings.append(f"sheet {entry.name!r}: {read.problem}")
        if read.missing_strings:
            warnings.append(f"sheet {entry.name!r}: {_missing_strings_text(read.missing_strings)}")
        warnings.extend(sheet.layout_warnings())
    sheet.comments = _comments(package, entry.part, warnings)
    charts = []
    for chart_part in _chart_parts(package, entry.part, warnings):
        try:
            chart = read_chart(package, chart_part)
        except CorruptDocument as error:
            warnings.append(f"sheet {entry.name!r}: a chart could not be read ({error})")
            continue
        warnings.extend(f"sheet {entry.name!r}: {warning}" for warning in chart.warnings)
        charts.append(chart)
    return shown, charts


def _comments(package: OpcPackage, sheet_part: str, warnings: list[str]) -> list[str]:
    """The sheet's cell comments (notes, ECMA-376 Part 1 §18.7) as ``REF: text``, in file order."""
    found: list[str] = []
    for rel in package.related(sheet_part, "comments"):
        if rel.external or not package.has(rel.target):
            continue
        try:
            root = package.xml(rel.target)
        except CorruptDocument as error:
            warnings.append(f"{rel.target}: unreadable comments ({error})")
            continue
        for comment in root.iter(f"{MAIN_NS}comment"):
            body = comment.find(f"{MAIN_NS}text")
            text = rich_text(body).strip() if body is not None else ""
            if text:
                found.append(f"{comment.get('ref', '')}: {text}")
    return found


def _chart_parts(package: OpcPackage, sheet_part: str, warnings: list[str]) -> list[str]:
    """The chart parts drawn on a sheet, in the drawing's order."""
    found: list[str] = []
    for drawing in package.related(sheet_part, "drawing"):
        if drawing.external or not package.has(drawing.target):
            continue
        charts = {
            rel.id: rel.target
            for rel in package.relationships(drawing.target)
            if (rel.is_a("chart") or rel.is_a("chartEx")) and not rel.external and package.has(rel.target)
        }
        try:
            ordered = [
                element.get(_R_ID)
                for element in package.xml(drawing.target).iter()
                if element.tag.endswith("}chart") and element.get(_R_ID) in charts
            ]
        except CorruptDocument as error:
            warnings.append(f"{drawing.target}: unreadable drawing ({error}); its charts are read in link order")
            ordered = []
        ordered += [rel_id for rel_id in charts if rel_id not in ordered]
        found.extend(charts[rel_id] for rel_id in dict.fromkeys(ordered))
    return found


def _page(number: int, entry: SheetEntry, sheet: SheetText, charts: list[Any]) -> Page:
    heading = f"Chart sheet: {entry.name}" if entry.kind == "chartsheet" else f"Sheet: {entry.name}"
    comments = "\n".join(["Comments:", *sheet.comments]) if sheet.comments else ""
    blocks = [sheet.text(), comments] + [chart.text() for chart in charts]
    text = "\n\n".join([heading] + [block for block in blocks if block.strip()])
    return Page(number=number, text=text, label=entry.name)


def _page_markdown(sheet: SheetText, charts: list[Any]) -> str:
    comment_items = [f"- {escape_markdown(' '.join(comment.split()))}" for comment in sheet.comments]
    comment_list = "\n".join(["**Comments**", "", *comment_items]) if comment_items else ""
    markdown_blocks = [sheet.markdown(), comment_list] + [chart.markdown() for chart in charts]
    return "\n\n".join(block for block in markdown_blocks if block.strip())


def _metadata(
    package: OpcPackage, workbook: WorkbookParts, rows_per_sheet: dict[str, JsonValue], charts: int
) -> dict[str, JsonValue]:
    metadata: dict[str, JsonValue] = dict(package.core_properties())
    metadata.pop("title", None)
    metadata["sheets"] = len(workbook.sheets)
    metadata["rows_per_sheet"] = rows_per_sheet
    hidden = [entry.name for entry in workbook.sheets if entry.hidden]
    if hidden:
        metadata["hidden_sheets"] = len(hidden)
    chart_sheets = sum(1 for entry in workbook.sheets if entry.kind == "chartsheet")
    if chart_sheets:
        metadata["chart_sheets"] = chart_sheets
    if charts:
        metadata["charts"] = charts
    return metadata


def _formula_warning(count: int) -> str:
    if count == 1:
        return "1 formula has no saved value; its formula text is shown"
    return f"{count} formulas have no saved value; their formula text is shown"


def _missing_strings_text(count: int) -> str:
    if count == 1:
        return "1 cell refers to a shared string that does not exist; it is left empty"
    return f"{count} cells refer to shared strings that do not exist; they are left empty"
