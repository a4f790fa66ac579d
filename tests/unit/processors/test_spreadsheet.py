"""Spreadsheets: sparse sheets read sparsely, formulas without values, ISO dates, sheet names, charts,
Markdown tables. Every workbook is built here, with openpyxl or by writing the OOXML parts into a ZIP."""

from __future__ import annotations

import datetime
import struct
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.comments import Comment

from docbatch.models import ErrorKind, JobState
from docbatch.processors import spreadsheet_grid
from docbatch.processors.spreadsheet_calamine import read_with_calamine, xlsb_sheet_area
from docbatch.processors.spreadsheet_grid import CellBudget, budget_exceeded, column_letters
from docbatch.processors.spreadsheet_sheetxml import shift_references
from docbatch.processors.spreadsheet_values import DateKind, format_date_kind, number_text, serial_text
from tests.helpers.extraction import extract_file, run_file

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"


_run = run_file
_extract = extract_file


def _write_xlsx(
    path: Path,
    sheet_data: str,
    *,
    shared: list[str] | None = None,
    styles: str | None = None,
    sheet_xml: str | None = None,
) -> Path:
    """A minimal workbook package with one sheet "Budget" whose ``sheetData`` (or, with ``sheet_xml``,
    whole part) is given as XML."""
    overrides = ""
    workbook_rels = f'<Relationship Id="rId1" Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    parts = {
        "xl/worksheets/sheet1.xml": sheet_xml
        or f'<worksheet xmlns="{MAIN}"><sheetData>{sheet_data}</sheetData></worksheet>',
    }
    if shared is not None:
        items = "".join(shared)
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{MAIN}">{items}</sst>'
        workbook_rels += f'<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
    if styles is not None:
        parts["xl/styles.xml"] = f'<styleSheet xmlns="{MAIN}">{styles}</styleSheet>'
        workbook_rels += f'<Relationship Id="rId3" Type="{RELS}/styles" Target="styles.xml"/>'
    parts["[Content_Types].xml"] = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{overrides}</Types>"
    )
    parts["_rels/.rels"] = (
        f'<Relationships xmlns="{PKG_RELS}"><Relationship Id="rId1" '
        f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    parts["xl/workbook.xml"] = (
        f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
        '<sheet name="Budget" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    parts["xl/_rels/workbook.xml.rels"] = f'<Relationships xmlns="{PKG_RELS}">{workbook_rels}</Relationships>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return path


def test_one_stray_cell_in_the_last_column_and_row_is_read_sparsely(tmp_path: Path) -> None:
    cells = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Item</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>Amount</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>Rent</t></is></c><c r="B2"><v>1200</v></c></row>'
        '<row r="1048576"><c r="XFD1048576"><v>7</v></c></row>'
    )
    result = _run(_write_xlsx(tmp_path / "stray.xlsx", cells))
    assert result.state is JobState.SUCCEEDED, result.message
    assert result.extraction is not None
    text = result.extraction.text
    assert "Item\tAmount\nRent\t1200" in text
    assert text.rstrip().endswith("7")
    assert len(text) < 200  # neither 16,384 columns of tabs nor a million blank lines


def test_a_workbook_over_the_cell_bound_fails_once_as_too_large_naming_the_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spreadsheet_grid, "MAX_CELLS", 1_000)
    rows = "".join(f'<row r="{row}">' + f'<c r="A{row}"><v>{row}</v></c></row>' for row in range(1, 1_502))
    result = _run(_write_xlsx(tmp_path / "big.xlsx", rows))
    assert result.state is JobState.DEAD
    assert result.error_kind is ErrorKind.TOO_LARGE
    assert "'Budget'" in (result.message or "")


def test_the_size_decision_counts_real_cells_and_text() -> None:
    assert budget_exceeded(10, 100, max_cells=10, max_chars=100) is None
    assert "non-empty cells" in (budget_exceeded(11, 100, max_cells=10, max_chars=100) or "")
    assert "characters" in (budget_exceeded(10, 101, max_cells=10, max_chars=100) or "")


def test_an_xlsb_sheet_spanning_the_whole_grid_is_measured_before_calamine_sees_it() -> None:
    def record(kind: int, body: bytes) -> bytes:
        kind_bytes = bytes([kind]) if kind < 128 else bytes([(kind & 0x7F) | 0x80, kind >> 7])
        return kind_bytes + bytes([len(body)]) + body

    sheet = (
        record(0, struct.pack("<I", 0) + bytes(13))  # row 1
        + record(5, struct.pack("<I", 0) + bytes(12))  # a number in column A
        + record(0, struct.pack("<I", 1_048_575) + bytes(13))  # the last row
        + record(5, struct.pack("<I", 16_383) + bytes(12))  # a number in column XFD
    )
    assert xlsb_sheet_area(sheet) == 1_048_576 * 16_384
    assert xlsb_sheet_area(record(148, struct.pack("<IIII", 0, 9, 0, 1))) == 20  # declared A1:B10


def test_formulas_without_a_saved_value_show_their_text_and_are_counted(tmp_path: Path) -> None:
    cells = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Rent</t></is></c><c r="B1"><v>1200</v></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>Food</t></is></c><c r="B2"><v>300</v></c></row>'
        '<row r="3"><c r="B3"><f>SUM(B1:B2)</f><v></v></c><c r="C3"><f>B3*2</f><v>3000</v></c></row>'
        '<row r="4"><c r="B4"><f t="shared" ref="B4:B5" si="0">B1+1</f></c></row>'
        '<row r="5"><c r="B5"><f t="shared" si="0"/></c></row>'
    )
    extraction = _extract(_write_xlsx(tmp_path / "formulas.xlsx", cells))
    assert "=SUM(B1:B2)" in extraction.text
    assert "3000" in extraction.text and "=B3*2" not in extraction.text  # a saved value wins
    assert "=B1+1" in extraction.text and "=B2+1" in extraction.text  # the shared formula, moved
    assert "3 formulas have no saved value; their formula text is shown" in extraction.warnings


def test_a_shared_formula_whose_master_has_a_value_still_gives_its_dependents_their_text(tmp_path: Path) -> None:
    cells = (
        '<row r="2"><c r="A2"><v>1</v></c><c r="B2"><f t="shared" ref="B2:B4" si="0">A2*10</f><v>10</v></c></row>'
        '<row r="3"><c r="A3"><v>2</v></c><c r="B3"><f t="shared" si="0"/></c></row>'
        '<row r="4"><c r="A4"><v>3</v></c><c r="B4"><f t="shared" si="0"/></c>'
        '<c r="C4"><f t="array" ref="C4">SUM(A2:A4*2)</f></c></row>'
    )
    extraction = _extract(_write_xlsx(tmp_path / "shared.xlsx", cells))
    assert extraction.text.splitlines()[-3:] == ["1\t10", "2\t=A3*10", "3\t=A4*10\t=SUM(A2:A4*2)"]
    assert "3 formulas have no saved value; their formula text is shown" in extraction.warnings


def test_a_cell_pointing_past_the_shared_strings_is_reported(tmp_path: Path) -> None:
    cells = '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>99</v></c></row>'
    extraction = _extract(_write_xlsx(tmp_path / "strings.xlsx", cells, shared=["<si><t>kept</t></si>"]))
    assert extraction.text.endswith("kept")
    assert "sheet 'Budget': 1 cell refers to a shared string that does not exist; it is left empty" in (
        extraction.warnings
    )


def test_shared_formula_references_move_but_absolute_parts_and_strings_stay() -> None:
    assert shift_references('A1+$B$2+C$3+Sheet2!D4&"A1"+LOG10(E5)', 2, 1) == 'B3+$B$2+D$3+Sheet2!E6&"A1"+LOG10(F7)'


def test_each_sheet_name_heads_its_page_and_hidden_sheets_are_read(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "Budget"
    first.append(["Line", "Amount"])
    hidden = workbook.create_sheet("Archive")
    hidden.sheet_state = "hidden"
    hidden["A1"] = "old figures"
    path = tmp_path / "names.xlsx"
    workbook.save(path)
    extraction = _extract(path)
    assert [page.text.splitlines()[0] for page in extraction.pages] == ["Sheet: Budget", "Sheet: Archive"]
    assert [page.label for page in extraction.pages] == ["Budget", "Archive"]
    assert "old figures" in extraction.pages[1].text
    assert extraction.metadata["hidden_sheets"] == 1


def test_dates_times_durations_numbers_and_booleans_read_as_a_person_sees_them(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(
        [
            datetime.datetime(2026, 3, 14, 9, 30),
            datetime.date(2026, 3, 14),
            datetime.time(9, 30),
            datetime.timedelta(hours=1, minutes=30),
            0.1 + 0.2,
            12.0,
            True,
        ]
    )
    path = tmp_path / "values.xlsx"
    workbook.save(path)
    row = _extract(path).pages[0].text.splitlines()[-1].split("\t")
    assert row == ["2026-03-14T09:30:00", "2026-03-14", "09:30:00", "PT1H30M", "0.3", "12", "TRUE"]


def test_custom_date_formats_and_errors_from_the_sheet_xml(tmp_path: Path) -> None:
    styles = (
        '<numFmts><numFmt numFmtId="164" formatCode="[h]:mm"/><numFmt numFmtId="165" formatCode="dd/mm/yyyy"/>'
        '<numFmt numFmtId="166" formatCode="0.0&quot;d&quot;"/></numFmts>'
        '<cellXfs><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="165"/><xf numFmtId="166"/></cellXfs>'
    )
    cells = (
        '<row r="1"><c r="A1" s="1"><v>1.5</v></c><c r="B1" s="2"><v>46095</v></c><c r="C1" s="3"><v>2.5</v></c>'
        '<c r="D1" t="e"><v>#DIV/0!</v></c><c r="E1" t="b"><v>0</v></c></row>'
    )
    row = _extract(_write_xlsx(tmp_path / "styles.xlsx", cells, styles=styles)).pages[0].text.splitlines()[-1]
    assert row.split("\t") == ["PT36H", "2026-03-14", "2.5", "#DIV/0!", "FALSE"]


def test_rich_text_runs_are_joined_and_phonetic_runs_left_out(tmp_path: Path) -> None:
    shared = [
        "<si><r><t>Harbor </t></r><r><rPr><b/></rPr><t>Lane</t></r></si>",
        "<si><t>東京</t><rPh sb='0' eb='2'><t>トウキョウ</t></rPh></si>",
        "<si><t>line_x000D_break</t></si>",
    ]
    cells = '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>'
    text = _extract(_write_xlsx(tmp_path / "rich.xlsx", cells, shared=shared)).text
    assert "Harbor Lane\t東京" in text
    assert "トウキョウ" not in text
    assert "line break" in text  # the escaped carriage return, laid out on one line


def test_merged_cells_give_their_value_once(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["A1"] = "Quarterly totals"
    sheet.merge_cells("A1:D1")
    path = tmp_path / "merged.xlsx"
    workbook.save(path)
    assert _extract(path).text.count("Quarterly totals") == 1


def test_each_sheet_is_a_markdown_table_with_a_header_rule(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Month", "Visits"])
    sheet.append(["2025-01", 7012])
    path = tmp_path / "table.xlsx"
    workbook.save(path)
    markdown = _extract(path).pages[0].markdown
    assert markdown is not None
    assert "| Month | Visits |\n| --- | --- |\n| 2025-01 | 7012 |" in markdown


def test_charts_and_chart_sheets_give_their_titles_and_cell_comments_are_kept(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Sales"
    for row in (["Quarter", "Units"], ["Q1", 10], ["Q2", 25]):
        sheet.append(row)
    sheet["B2"].comment = Comment("checked against the till rolls", "Ana")
    chart = BarChart()
    chart.title = "Units per quarter"
    chart.add_data(Reference(sheet, min_col=2, min_row=2, max_row=3))
    chart.series[0].tx = SeriesLabel(v="Units")
    sheet.add_chart(chart, "D2")
    chart_sheet = workbook.create_chartsheet("Overview")
    overview = BarChart()
    overview.title = "Overview of sales"
    overview.add_data(Reference(sheet, min_col=2, min_row=2, max_row=3))
    chart_sheet.add_chart(overview)
    path = tmp_path / "charts.xlsx"
    workbook.save(path)
    extraction = _extract(path)
    assert "Chart: Units per quarter" in extraction.pages[0].text
    assert "B2: checked against the till rolls" in extraction.pages[0].text
    assert extraction.pages[1].text.startswith("Chart sheet: Overview")
    assert "Chart: Overview of sales" in extraction.pages[1].text


def test_number_and_date_rendering_rules() -> None:
    assert number_text(0.1 + 0.2) == "0.3"
    assert number_text(0.4963683545421216) == "0.4963683545421216"  # real digits are kept
    assert number_text(-1200.0) == "-1200"
    assert format_date_kind("yyyy-mm-dd hh:mm") is DateKind.DATETIME
    assert format_date_kind("mm:ss") is DateKind.TIME
    assert format_date_kind('#,##0.00 "days"') is None
    assert serial_text(60, DateKind.DATE) == "1900-02-29"  # Excel's phantom leap day, as Excel shows it
    assert serial_text(0, DateKind.DATE, date1904=True) == "1904-01-01"
    assert serial_text(-1, DateKind.DATE) is None


def test_cells_and_rows_without_references_take_the_next_position(tmp_path: Path) -> None:
    cells = (
        '<row><c t="inlineStr"><is><t>Item</t></is></c><c r="C1" s="0"/><c><v>5</v></c></row>'
        '<row><c r="B2"><v>7</v></c></row>'
    )
    lines = _extract(_write_xlsx(tmp_path / "implicit.xlsx", cells)).pages[0].text.splitlines()
    assert lines[-2:] == ["Item\t\t\t5", "\t7"]


def test_a_sheet_declaring_entities_is_not_expanded_and_says_so(tmp_path: Path) -> None:
    sheet_xml = (
        f'<!DOCTYPE w [<!ENTITY boom "exploded">]><worksheet xmlns="{MAIN}"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&boom;</t></is></c></row></sheetData></worksheet>'
    )
    result = _run(_write_xlsx(tmp_path / "entities.xlsx", "", sheet_xml=sheet_xml))
    extraction = result.extraction
    assert extraction is not None
    assert "exploded" not in extraction.text
    assert any("'Budget'" in warning and "broken" in warning for warning in extraction.warnings)


GAP_WARNING = (
    "sheet 'Sparse': runs of more than 10 empty columns were shortened; the cells after them carry their reference"
)


def _sparse_workbook(path: Path, last_cell: str = "XFD1048576") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Sparse"
    sheet["A1"] = "top-left"
    sheet["B2"] = "near"
    sheet["Z2"] = "far in row"
    sheet["M50"] = "middle"
    sheet[last_cell] = "bottom-right"
    workbook.save(path)
    return path


def test_cells_after_a_shortened_run_of_empty_columns_carry_their_reference(tmp_path: Path) -> None:
    extraction = _extract(_sparse_workbook(tmp_path / "sparse.xlsx"))
    assert extraction.pages[0].text.splitlines()[2:] == [
        "top-left",
        "\tnear" + "\t" * 11 + "[Z2] far in row",
        "",
        "\t" * 11 + "[M50] middle",
        "",
        "\t" * 11 + "[XFD1048576] bottom-right",
    ]
    assert extraction.warnings == [GAP_WARNING]
    markdown = extraction.pages[0].markdown
    assert markdown is not None
    assert "\\[M50\\] middle |" in markdown and "\\[XFD1048576\\] bottom-right |" in markdown


def test_calamine_places_cells_at_their_own_row_and_column(tmp_path: Path) -> None:
    warnings: list[str] = []
    # calamine lays a sheet out as a rectangle: the last cell stays near (AZ60, not XFD1048576).
    sheets = read_with_calamine(_sparse_workbook(tmp_path / "sparse.xlsx", "AZ60"), CellBudget(), warnings)
    assert sheets[0].text().splitlines() == [
        "top-left",
        "\tnear" + "\t" * 11 + "[Z2] far in row",
        "",
        "\t" * 11 + "[M50] middle",
        "",
        "\t" * 11 + "[AZ60] bottom-right",
    ]
    assert warnings == [GAP_WARNING]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["C3"], sheet["R4"] = "first used column is C", "far"  # calamine's rows then start at column C
    workbook.save(tmp_path / "offset.xlsx")
    offset = read_with_calamine(tmp_path / "offset.xlsx", CellBudget(), [])
    assert offset[0].text() == "first used column is C\n" + "\t" * 11 + "[R4] far"


def test_a_sheet_with_short_gaps_keeps_its_columns_without_references(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["A1"], sheet["L1"], sheet["L3"] = "a", "l", "m"  # B-K: ten empty columns
    path = tmp_path / "short.xlsx"
    workbook.save(path)
    extraction = _extract(path)
    assert extraction.text.splitlines()[2:] == ["a" + "\t" * 11 + "l", "", "\t" * 11 + "m"]
    assert "[" not in extraction.text and extraction.warnings == []


def test_column_letters_follow_excel() -> None:
    assert [column_letters(index) for index in (0, 25, 26, 701, 702, 16383)] == ["A", "Z", "AA", "ZZ", "AAA", "XFD"]


def test_tabs_and_line_breaks_in_cells_are_spaces_in_the_text_and_said_so(tmp_path: Path) -> None:
    cells = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>tab\there</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>multi\nline</t></is></c>'
        '<c r="C1" t="inlineStr"><is><t>x_x000D_y</t></is></c><c r="D1"><v>4</v></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>plain</t></is></c></row>'
    )
    extraction = _extract(_write_xlsx(tmp_path / "breaks.xlsx", cells))
    assert extraction.text.splitlines()[-2:] == ["tab here\tmulti line\tx y\t4", "plain"]
    assert extraction.pages[0].markdown == (
        "| tab here | multi<br>line | x<br>y | 4 |\n| --- | --- | --- | --- |\n| plain |  |  |  |"
    )
    assert extraction.warnings == [
        "3 cells hold tabs or line breaks, shown as spaces in the text; the Markdown keeps line breaks as <br>"
    ]
