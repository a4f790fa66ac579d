"""Chart data as text: titles, series names, category labels and values from the chart's own caches.

An Office chart part (DrawingML Chart, ECMA-376 Part 1 §21.2, namespace
``http://schemas.openxmlformats.org/drawingml/2006/chart``) keeps, next to the formulas pointing at
the workbook cells, a cache of what those cells held when the chart was last saved (``c:strCache``,
``c:numCache``, ``c:multiLvlStrCache``; §21.2.2). That cache is what the reader sees, so it is what we
read: nothing is recomputed and numbers keep the digits the file stores. Office 2016 chart types
(waterfall, histogram, treemap, sunburst, box & whisker, funnel) live in a "chartex" part
(namespace ``http://schemas.microsoft.com/office/drawing/2014/chartex``, MS-ODRAWXML §2.24) and are
read the same way.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from docbatch.processors.markup import escape_markdown, markdown_table
from docbatch.processors.opc import OpcPackage

_C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_CX = "{http://schemas.microsoft.com/office/drawing/2014/chartex}"

# Number formats simple enough to apply exactly: digits with optional grouping, decimals and percent.
_FIXED_FORMAT = re.compile(r"^(#,##)?0(\.(0+))?(%?)$")
_DATE_FORMAT = re.compile(r"^(\[\$[^\]]*\])?[dmyDMY][dmyDMY/\-. ,]*$")


@dataclass(frozen=True)
class Series:
    """One data series: its name (None when the file gives none), one category label per point
    (empty when the chart has no categories) and one value per point, as text ("" for a blank
    point). ``sizes`` holds bubble sizes for bubble charts, else it is empty."""

    name: str | None
    categories: list[str]
    values: list[str]
    sizes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Chart:
    """What a chart shows: its title (None when it has none), axis titles, and its series in file
    order. ``warnings`` says what could not be read (e.g. a series whose data has no cache)."""

    title: str | None
    series: list[Series]
    axis_titles: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Plain text: ``Chart: TITLE``, an ``Axes:`` line when axes have titles, then one line per
        series ``NAME: cat1 = v1; cat2 = v2`` (without ``cat =`` when there are no categories)."""
        lines = [f"Chart: {self.title}" if self.title else "Chart"]
        if self.axis_titles:
            lines.append("Axes: " + "; ".join(self.axis_titles))
        for series in self.series:
            points = "; ".join(_point_text(series, index) for index in range(_point_count(series)))
            lines.append(f"{series.name}: {points}" if series.name else points)
        return "\n".join(line for line in lines if line)

    def markdown(self) -> str:
        """Markdown: a bold title line, then a GFM table with a first column of category labels and one
        column per series. Series with different categories get a table each."""
        blocks = [f"**{escape_markdown('Chart: ' + self.title) if self.title else 'Chart'}**"]
        if self.axis_titles:
            blocks.append(escape_markdown("Axes: " + "; ".join(self.axis_titles)))
        for group in _groups_sharing_categories(self.series):
            if any(_point_count(series) for series in group):  # no cached points: no empty table
                blocks.append(markdown_table(_table_rows(group)))
        return "\n\n".join(block for block in blocks if block)


def _point_count(series: Series) -> int:
    return max(len(series.categories), len(series.values))


def _point_text(series: Series, index: int) -> str:
    value = series.values[index] if index < len(series.values) else ""
    if index < len(series.sizes) and series.sizes[index]:
        value = f"{value} (size {series.sizes[index]})"
    category = series.categories[index] if index < len(series.categories) else ""
    return f"{category} = {value}" if category else value


def _groups_sharing_categories(all_series: list[Series]) -> list[list[Series]]:
    groups: list[list[Series]] = []
    for series in all_series:
        group = next((g for g in groups if g[0].categories == series.categories or not series.categories), None)
        if group is None:
            groups.append([series])
        else:
            group.append(series)
    return groups


def _table_rows(group: list[Series]) -> list[list[str]]:
    categories = group[0].categories
    rows = [[""] + [series.name or "" for series in group]]
    for index in range(max(_point_count(series) for series in group)):
        label = categories[index] if index < len(categories) else ""
        row = [label]
        for series in group:
            value = series.values[index] if index < len(series.values) else ""
            if index < len(series.sizes) and series.sizes[index]:
                value = f"{value} (size {series.sizes[index]})"
            row.append(value)
        rows.append(row)
    return rows


def read_chart(package: OpcPackage, part: str) -> Chart:
    """Read the chart part ``part`` (e.g. ``ppt/charts/chart1.xml``) of ``package``: a DrawingML chart
    (``c:chartSpace``) or an Office 2016 chartex (``cx:chartSpace``).

    Raises CorruptDocument (from OpcPackage) when the part is missing or is not well-formed XML.
    """
    root = package.xml(part)
    if root.tag == f"{_CX}chartSpace":
        return _read_chartex(root)
    chart = root.find(f"{_C}chart")
    if chart is None:
        return Chart(title=None, series=[], warnings=[f"{part}: no chart element"])
    date1904 = _val(root.find(f"{_C}date1904")) in ("1", "true")
    title_element = chart.find(f"{_C}title")
    title = _title_text(title_element) if title_element is not None else None
    series: list[Series] = []
    warnings: list[str] = []
    axis_titles: list[str] = []
    plot_area = chart.find(f"{_C}plotArea")
    for plot in plot_area if plot_area is not None else []:
        for element in plot.findall(f"{_C}ser"):
            read = _read_series(element, date1904)
            has_values = element.find(f"{_C}val") is not None or element.find(f"{_C}yVal") is not None
            if has_values and not read.values:
                warnings.append(f"{part}: series {len(series) + 1} has no cached values (only a cell reference)")
            series.append(read)
        axis_title = plot.find(f"{_C}title")
        if axis_title is not None and _title_text(axis_title):
            axis_titles.append(_title_text(axis_title) or "")
    if title_element is not None and title_element.find(f"{_C}tx") is None and len(series) == 1:
        # A title with no text of its own is automatic: Office shows the only series' name there.
        title = series[0].name
    return Chart(title=title or None, series=series, axis_titles=axis_titles, warnings=warnings)


def _val(element: Any) -> str | None:
    return None if element is None else element.get("val")


def _title_text(title: Any) -> str | None:
    """A title's text: rich text paragraphs (a:p) joined by spaces, or a cell reference's cache."""
    tx = title.find(f"{_C}tx")
    if tx is None:
        return None
    rich = tx.find(f"{_C}rich")
    if rich is not None:
        paragraphs = [_drawing_paragraph(p) for p in rich.iter(f"{_A}p")]
        return " ".join(p for p in paragraphs if p) or None
    return _text_source(tx) or None


def _drawing_paragraph(paragraph: Any) -> str:
    parts: list[str] = []
    for element in paragraph.iter():
        if element.tag == f"{_A}t":
            parts.append(element.text or "")
        elif element.tag == f"{_A}br":
            parts.append(" ")
    return " ".join("".join(parts).split())


def _text_source(tx: Any) -> str:
    """c:tx of a series or title: a c:strRef with its cache, or a literal c:v (§21.2.2.215)."""
    literal = tx.find(f"{_C}v")
    if literal is not None:
        return literal.text or ""
    cache = tx.find(f"{_C}strRef/{_C}strCache")
    if cache is None:
        return ""
    return " ".join(value for value in _cached_points(cache, None, False) if value)


def _read_series(element: Any, date1904: bool) -> Series:
    tx = element.find(f"{_C}tx")
    name = _text_source(tx) if tx is not None else ""
    categories = _data_source(element.find(f"{_C}cat"), date1904)
    if not categories:
        categories = _data_source(element.find(f"{_C}xVal"), date1904)
    values = _data_source(element.find(f"{_C}val"), date1904)
    if not values:
        values = _data_source(element.find(f"{_C}yVal"), date1904)
    sizes = _data_source(element.find(f"{_C}bubbleSize"), date1904)
    return Series(name=name or None, categories=categories, values=values, sizes=sizes)


def _data_source(source: Any, date1904: bool) -> list[str]:
    """The cached points of a c:cat / c:val / c:xVal / c:yVal / c:bubbleSize element, one text per
    index (blank points as ""). Handles strRef, numRef, multiLvlStrRef and the literal forms."""
    if source is None:
        return []
    for tag in ("numRef/{c}numCache", "numLit", "strRef/{c}strCache", "strLit"):
        cache = source.find(_C + tag.format(c=_C))
        if cache is not None:
            return _cached_points(cache, cache.findtext(f"{_C}formatCode"), date1904)
    multi = source.find(f"{_C}multiLvlStrRef/{_C}multiLvlStrCache")
    if multi is not None:
        return _multi_level_points(multi)
    return []


def _cached_points(cache: Any, format_code: str | None, date1904: bool) -> list[str]:
    count = _int(_val(cache.find(f"{_C}ptCount")))
    points: dict[int, str] = {}
    for point in cache.findall(f"{_C}pt"):
        index = _int(point.get("idx"))
        text = point.findtext(f"{_C}v") or ""
        points[index] = format_number(text, point.get("formatCode") or format_code, date1904)
    size = max(count, max(points, default=-1) + 1)
    return [points.get(index, "") for index in range(size)]


def _multi_level_points(cache: Any) -> list[str]:
    """Labels of a multi-level category axis: per point, its labels from the outermost level to the
    innermost joined by " / ". An outer label covers points from its index to the next label's."""
    count = _int(_val(cache.find(f"{_C}ptCount")))
    levels = []
    for level in cache.findall(f"{_C}lvl"):
        levels.append({_int(p.get("idx")): p.findtext(f"{_C}v") or "" for p in level.findall(f"{_C}pt")})
    if not levels:
        return []
    size = max(count, max(levels[0], default=-1) + 1)
    labels = []
    for index in range(size):
        parts = []
        for depth, level in enumerate(reversed(levels)):
            inner = depth == len(levels) - 1
            found = level.get(index, "") if inner else _covering_label(level, index)
            if found:
                parts.append(found)
        labels.append(" / ".join(parts))
    return labels


def _covering_label(level: dict[int, str], index: int) -> str:
    starts = [start for start in level if start <= index]
    return level[max(starts)] if starts else ""


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def format_number(text: str, format_code: str | None, date1904: bool = False) -> str:
    """A cached value shown as its number format shows it, for the simple formats only: fixed
    decimals (``0.00``), grouping (``#,##0``), percent (``0%``) and day/month/year dates (as ISO 8601
    dates, per the workbook's 1900 or 1904 date system, ECMA-376 Part 1 §18.17.4). Anything else,
    and any value that is not a number, is kept exactly as written."""
    code = (format_code or "").strip()
    if not code or code == "General":
        return text
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return text
    if not number.is_finite():
        return text
    fixed = _FIXED_FORMAT.match(code)
    if fixed:
        grouped, decimals, percent = bool(fixed.group(1)), len(fixed.group(3) or ""), fixed.group(4)
        if percent:
            number *= 100
        # Excel rounds halves away from zero (0.125 as 0% is 13%), not to even as Python's format does.
        number = number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
        shown = f"{number:{',' if grouped else ''}.{decimals}f}"
        return shown + percent
    if _DATE_FORMAT.match(code) and number >= 0:
        return _serial_date(number, date1904) or text
    return text


def _serial_date(serial: Decimal, date1904: bool) -> str | None:
    days = int(serial)
    if date1904:
        base = datetime.date(1904, 1, 1)
    else:
        # Serial 60 is the 29 February 1900 that never was (kept for Lotus 1-2-3 compatibility).
        base = datetime.date(1899, 12, 31) if days < 60 else datetime.date(1899, 12, 30)
    try:
        return (base + datetime.timedelta(days=days)).isoformat()
    except OverflowError:
        return None


def _read_chartex(root: Any) -> Chart:
    """An Office 2016 chart: data lives in cx:chartData/cx:data (string and number dimensions), the
    series in cx:plotArea point at it through cx:dataId."""
    data: dict[str, tuple[list[str], list[str]]] = {}
    for block in root.iter(f"{_CX}data"):
        dimensions = [d for d in block if d.tag in (f"{_CX}strDim", f"{_CX}numDim")]
        category = next((d for d in dimensions if d.get("type") == "cat"), None)
        value = next((d for d in dimensions if d.tag == f"{_CX}numDim" and d.get("type") != "cat"), None)
        categories, values = _chartex_dimension(category), _chartex_dimension(value)
        data[block.get("id", "")] = (categories, values)
    series: list[Series] = []
    for element in root.iter(f"{_CX}series"):
        data_id = _chartex_data_id(element)
        categories, values = data.get(data_id, ([], []))
        name = _chartex_text(element.find(f"{_CX}tx"))
        series.append(Series(name=name or None, categories=categories, values=values))
    chart = root.find(f"{_CX}chart")
    title_element = chart.find(f"{_CX}title") if chart is not None else None
    title = _chartex_text(title_element.find(f"{_CX}tx")) if title_element is not None else ""
    return Chart(title=title or None, series=series)


def _chartex_data_id(series: Any) -> str:
    element = series.find(f"{_CX}dataId")
    return element.get("val", "") if element is not None else ""


def _chartex_dimension(dimension: Any) -> list[str]:
    if dimension is None:
        return []
    level = dimension.find(f"{_CX}lvl")
    if level is None:
        return []
    format_code = level.get("formatCode")
    points: dict[int, str] = {}
    for point in level.findall(f"{_CX}pt"):
        points[_int(point.get("idx"))] = format_number(point.text or "", format_code)
    size = max(_int(level.get("ptCount")), max(points, default=-1) + 1)
    return [points.get(index, "") for index in range(size)]


def _chartex_text(tx: Any) -> str:
    """cx:tx: cx:txData (a cell reference cx:f and its cached cx:v) or cx:rich paragraphs."""
    if tx is None:
        return ""
    cached = tx.find(f"{_CX}txData/{_CX}v")
    if cached is not None:
        return cached.text or ""
    paragraphs = [_drawing_paragraph(p) for p in tx.iter(f"{_A}p")]
    return " ".join(p for p in paragraphs if p)
