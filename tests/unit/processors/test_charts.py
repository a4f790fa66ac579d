"""Chart parts read as text: titles, series names, categories and values from the caches (fixtures built here)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from docbatch.errors import CorruptDocument
from docbatch.processors.charts import format_number, read_chart
from docbatch.processors.opc import OpcPackage

C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
CX = "http://schemas.microsoft.com/office/drawing/2014/chartex"


def chart_space(plot_area: str, title: str = "", extra: str = "", namespace: str = C) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><c:chartSpace xmlns:c="{namespace}" xmlns:a="{A}">{extra}'
        f"<c:chart>{title}<c:plotArea>{plot_area}</c:plotArea></c:chart></c:chartSpace>"
    )


def str_cache(*labels: str) -> str:
    points = "".join(f'<c:pt idx="{i}"><c:v>{label}</c:v></c:pt>' for i, label in enumerate(labels))
    return (
        f'<c:strRef><c:f>Sheet1!$A$2</c:f><c:strCache><c:ptCount val="{len(labels)}"/>{points}</c:strCache></c:strRef>'
    )


def num_cache(*values: str, format_code: str = "General") -> str:
    points = "".join(f'<c:pt idx="{i}"><c:v>{value}</c:v></c:pt>' for i, value in enumerate(values))
    return (
        f"<c:numRef><c:f>Sheet1!$B$2</c:f><c:numCache><c:formatCode>{format_code}</c:formatCode>"
        f'<c:ptCount val="{len(values)}"/>{points}</c:numCache></c:numRef>'
    )


RICH_TITLE = (
    "<c:title><c:tx><c:rich><a:bodyPr/><a:p><a:r><a:t>Quarterly </a:t></a:r><a:r><a:t>sales</a:t></a:r></a:p>"
    "</c:rich></c:tx></c:title>"
)

BAR = (
    '<c:barChart><c:barDir val="col"/>'
    f"<c:ser><c:idx val='0'/><c:tx>{str_cache('North')}</c:tx><c:cat>{str_cache('Q1', 'Q2')}</c:cat>"
    f"<c:val>{num_cache('1.5', '10')}</c:val></c:ser>"
    f"<c:ser><c:idx val='1'/><c:tx>{str_cache('South')}</c:tx><c:cat>{str_cache('Q1', 'Q2')}</c:cat>"
    f"<c:val>{num_cache('0.30000000000000004', '7')}</c:val></c:ser>"
    "</c:barChart>"
    f"<c:valAx><c:title><c:tx><c:rich><a:p><a:r><a:t>Units sold</a:t></a:r></a:p></c:rich></c:tx></c:title></c:valAx>"
)


def package_with(tmp_path: Path, parts: dict[str, str]) -> OpcPackage:
    path = tmp_path / "chart.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, xml in parts.items():
            archive.writestr(name, xml)
    return OpcPackage(path)


def test_bar_chart_title_series_categories_and_values_as_written(tmp_path: Path) -> None:
    with package_with(tmp_path, {"ppt/charts/chart1.xml": chart_space(BAR, RICH_TITLE)}) as package:
        chart = read_chart(package, "ppt/charts/chart1.xml")
    assert chart.title == "Quarterly sales"
    assert [s.name for s in chart.series] == ["North", "South"]
    assert chart.series[0].categories == ["Q1", "Q2"]
    assert chart.series[1].values == ["0.30000000000000004", "7"]
    assert chart.axis_titles == ["Units sold"]
    assert chart.text().splitlines() == [
        "Chart: Quarterly sales",
        "Axes: Units sold",
        "North: Q1 = 1.5; Q2 = 10",
        "South: Q1 = 0.30000000000000004; Q2 = 7",
    ]
    assert chart.warnings == []


def test_markdown_is_a_table_with_series_as_columns(tmp_path: Path) -> None:
    with package_with(tmp_path, {"ppt/charts/chart1.xml": chart_space(BAR, RICH_TITLE)}) as package:
        markdown = read_chart(package, "ppt/charts/chart1.xml").markdown()
    assert "**Chart: Quarterly sales**" in markdown
    assert "|  | North | South |\n| --- | --- | --- |\n| Q1 | 1.5 | 0.30000000000000004 |\n| Q2 | 10 | 7 |" in markdown


def test_pie_chart_title_from_cell_reference_and_percent_format(tmp_path: Path) -> None:
    pie = (
        f"<c:pieChart><c:ser><c:tx><c:v>Share</c:v></c:tx><c:cat>{str_cache('Tea', 'Coffee')}</c:cat>"
        f"<c:val>{num_cache('0.25', '0.755', format_code='0.0%')}</c:val></c:ser></c:pieChart>"
    )
    title = f"<c:title><c:tx>{str_cache('Drinks 2024')}</c:tx></c:title>"
    with package_with(tmp_path, {"c.xml": chart_space(pie, title)}) as package:
        chart = read_chart(package, "c.xml")
    assert chart.text() == "Chart: Drinks 2024\nShare: Tea = 25.0%; Coffee = 75.5%"


def test_scatter_and_bubble_use_x_values_as_categories_and_keep_sizes(tmp_path: Path) -> None:
    bubble = (
        f"<c:bubbleChart><c:ser><c:tx><c:v>Firms</c:v></c:tx><c:xVal>{num_cache('1', '2')}</c:xVal>"
        f"<c:yVal>{num_cache('3.25', '4')}</c:yVal><c:bubbleSize>{num_cache('9', '16')}</c:bubbleSize>"
        "</c:ser></c:bubbleChart>"
    )
    with package_with(tmp_path, {"c.xml": chart_space(bubble)}) as package:
        chart = read_chart(package, "c.xml")
    assert chart.title is None
    assert chart.text() == "Chart\nFirms: 1 = 3.25 (size 9); 2 = 4 (size 16)"


def test_multi_level_categories_and_blank_points(tmp_path: Path) -> None:
    multi = (
        '<c:multiLvlStrRef><c:f>S!$A$2:$B$4</c:f><c:multiLvlStrCache><c:ptCount val="3"/>'
        '<c:lvl><c:pt idx="0"><c:v>Jan</c:v></c:pt><c:pt idx="1"><c:v>Feb</c:v></c:pt>'
        '<c:pt idx="2"><c:v>Jan</c:v></c:pt></c:lvl>'
        '<c:lvl><c:pt idx="0"><c:v>2023</c:v></c:pt><c:pt idx="2"><c:v>2024</c:v></c:pt></c:lvl>'
        "</c:multiLvlStrCache></c:multiLvlStrRef>"
    )
    values = (
        '<c:numRef><c:numCache><c:ptCount val="3"/><c:pt idx="0"><c:v>5</c:v></c:pt>'
        '<c:pt idx="2"><c:v>6</c:v></c:pt></c:numCache></c:numRef>'
    )
    line = f"<c:lineChart><c:ser><c:cat>{multi}</c:cat><c:val>{values}</c:val></c:ser></c:lineChart>"
    with package_with(tmp_path, {"c.xml": chart_space(line)}) as package:
        series = read_chart(package, "c.xml").series[0]
    assert series.name is None
    assert series.categories == ["2023 / Jan", "2023 / Feb", "2024 / Jan"]
    assert series.values == ["5", "", "6"]


def test_series_without_cache_is_warned(tmp_path: Path) -> None:
    area = "<c:areaChart><c:ser><c:val><c:numRef><c:f>Sheet1!$B$2:$B$9</c:f></c:numRef></c:val></c:ser></c:areaChart>"
    with package_with(tmp_path, {"c.xml": chart_space(area)}) as package:
        chart = read_chart(package, "c.xml")
    assert chart.warnings == ["c.xml: series 1 has no cached values (only a cell reference)"]
    # Nothing to tabulate: no empty table with only a header rule.
    assert "---" not in chart.markdown()


def test_strict_ooxml_chart_namespace_is_read(tmp_path: Path) -> None:
    strict = chart_space(BAR, RICH_TITLE, namespace="http://purl.oclc.org/ooxml/drawingml/chart")
    strict = strict.replace(A, "http://purl.oclc.org/ooxml/drawingml/main")
    with package_with(tmp_path, {"c.xml": strict}) as package:
        chart = read_chart(package, "c.xml")
    assert chart.title == "Quarterly sales"
    assert len(chart.series) == 2


def test_date_categories_become_iso_dates(tmp_path: Path) -> None:
    line = (
        f"<c:lineChart><c:ser><c:cat>{num_cache('45292', '45293', format_code='m/d/yyyy')}</c:cat>"
        f"<c:val>{num_cache('1', '2')}</c:val></c:ser></c:lineChart>"
    )
    with package_with(tmp_path, {"c.xml": chart_space(line)}) as package:
        assert read_chart(package, "c.xml").series[0].categories == ["2024-01-01", "2024-01-02"]


@pytest.mark.parametrize(
    ("text", "code", "shown"),
    [
        ("1234.5", "#,##0.00", "1,234.50"),
        ("0.125", "0%", "13%"),
        ("1.0000000001", "General", "1.0000000001"),
        ("abc", "0.00", "abc"),
        ("3.5", '"$"#,##0', "3.5"),
    ],
)
def test_only_simple_number_formats_are_applied(text: str, code: str, shown: str) -> None:
    assert format_number(text, code) == shown


def test_chartex_waterfall(tmp_path: Path) -> None:
    xml = (
        f'<cx:chartSpace xmlns:cx="{CX}" xmlns:a="{A}"><cx:chartData><cx:data id="0">'
        '<cx:strDim type="cat"><cx:f>Sheet1!$A$2:$A$3</cx:f><cx:lvl ptCount="2">'
        '<cx:pt idx="0">Start</cx:pt><cx:pt idx="1">Gain</cx:pt></cx:lvl></cx:strDim>'
        '<cx:numDim type="val"><cx:f>Sheet1!$B$2:$B$3</cx:f><cx:lvl ptCount="2" formatCode="General">'
        '<cx:pt idx="0">100</cx:pt><cx:pt idx="1">20.5</cx:pt></cx:lvl></cx:numDim>'
        "</cx:data></cx:chartData><cx:chart><cx:title><cx:tx><cx:txData><cx:v>Bridge</cx:v></cx:txData>"
        "</cx:tx></cx:title><cx:plotArea><cx:plotAreaRegion>"
        '<cx:series layoutId="waterfall"><cx:tx><cx:txData><cx:f>Sheet1!$B$1</cx:f><cx:v>Profit</cx:v>'
        '</cx:txData></cx:tx><cx:dataId val="0"/></cx:series></cx:plotAreaRegion></cx:plotArea></cx:chart>'
        "</cx:chartSpace>"
    )
    with package_with(tmp_path, {"c.xml": xml}) as package:
        chart = read_chart(package, "c.xml")
    assert chart.text() == "Chart: Bridge\nProfit: Start = 100; Gain = 20.5"


def test_missing_or_broken_part_raises_corrupt(tmp_path: Path) -> None:
    with package_with(tmp_path, {"c.xml": "<c:chartSpace"}) as package:
        with pytest.raises(CorruptDocument):
            read_chart(package, "c.xml")
        with pytest.raises(CorruptDocument):
            read_chart(package, "missing.xml")


def test_automatic_title_of_a_single_series_chart_is_the_series_name(tmp_path: Path) -> None:
    scatter = (
        f"<c:scatterChart><c:ser><c:tx>{str_cache('Y-Value 1')}</c:tx><c:xVal>{num_cache('0.7')}</c:xVal>"
        f"<c:yVal>{num_cache('2.7')}</c:yVal></c:ser></c:scatterChart>"
    )
    auto_title = '<c:title><c:overlay val="0"/></c:title><c:autoTitleDeleted val="0"/>'
    with package_with(tmp_path, {"c.xml": chart_space(scatter, auto_title)}) as package:
        assert read_chart(package, "c.xml").text() == "Chart: Y-Value 1\nY-Value 1: 0.7 = 2.7"
    with package_with(tmp_path, {"d.xml": chart_space(BAR + BAR, auto_title)}) as package:
        assert read_chart(package, "d.xml").title is None
