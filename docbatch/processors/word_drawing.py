"""What a Word drawing, picture or embedded object carries as text.

A run may hold a DrawingML drawing (``w:drawing``, ECMA-376 Part 1 §17.3.3.9 and §20.4), a VML
picture (``w:pict``, Part 4 §14) or an embedded object (``w:object``). Their text lives in:
- text boxes and shapes: ``w:txbxContent`` inside ``wps:txbx`` (DrawingML) or ``v:textbox`` (VML),
  read as paragraphs and tables like the body;
- alternative text: ``wp:docPr`` ``descr``/``title`` (§20.4.2.5) and VML ``alt``, given as
  ``[image: TEXT]``; WordArt: ``v:textpath`` ``string``;
- charts (``c:chart``/``cx:chart``, a part of their own) read with :mod:`docbatch.processors.charts`;
- SmartArt diagrams (``dgm:relIds``): the text of the diagram's data part (§21.4).
Embedded OLE objects (``o:OLEObject``) are not read: each is counted for a warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from docbatch.errors import DocumentError
from docbatch.processors.charts import read_chart
from docbatch.processors.word_math import M
from docbatch.processors.word_render import Block, ChartBlock, Paragraph
from docbatch.processors.word_styles import W

if TYPE_CHECKING:
    from docbatch.processors.word_body import StoryWalker

_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_WP = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_V = "{urn:schemas-microsoft-com:vml}"
_O = "{urn:schemas-microsoft-com:office:office}"
_CHART = "{http://schemas.openxmlformats.org/drawingml/2006/chart}chart"
_CHARTEX = "{http://schemas.microsoft.com/office/drawing/2014/chartex}chart"
_DIAGRAM = "{http://schemas.openxmlformats.org/drawingml/2006/diagram}"
# Elements that carry text we read; a markup-compatibility branch without any is worth less than one with.
_TEXT_BEARING = frozenset({f"{W}t", f"{M}t", f"{_A}t", f"{_V}textpath", _CHART, _CHARTEX, f"{_DIAGRAM}relIds"})


def choose_branch(alternate: Any) -> Any | None:
    """The branch of an ``mc:AlternateContent`` to read (ECMA-376 Part 3 §10.2): the first
    ``mc:Choice``, unless it carries no text while the ``mc:Fallback`` does. Never both: the two
    branches hold the same content in two forms."""
    choices = alternate.findall(f"{_MC}Choice")
    fallback = alternate.find(f"{_MC}Fallback")
    if not choices:
        return fallback
    if fallback is not None and not _bears_text(choices[0]) and _bears_text(fallback):
        return fallback
    return choices[0]


def _bears_text(element: Any) -> bool:
    return any(found.tag in _TEXT_BEARING or _alternative_text(found) for found in element.iter())


def _alternative_text(element: Any) -> str:
    if element.tag == f"{_WP}docPr":
        return " ".join((element.get("descr") or element.get("title") or "").split())
    if isinstance(element.tag, str) and element.tag.startswith(_V):
        return " ".join((element.get("alt") or "").split())
    return ""


def read_graphic(walker: StoryWalker, graphic: Any) -> list[Block]:
    """The blocks a ``w:drawing``, ``w:pict`` or ``w:object`` carries, in document order."""
    found: list[Block] = []
    stack = [graphic]
    while stack:
        element = stack.pop()
        tag = element.tag
        if tag == f"{W}txbxContent":
            found.extend(walker.blocks(element))
            continue
        if tag == f"{_MC}AlternateContent":
            branch = choose_branch(element)
            stack.extend(reversed(list(branch)) if branch is not None else [])
            continue
        alternative = _alternative_text(element)
        if alternative:
            found.append(Paragraph(f"[image: {alternative}]"))
        if tag == f"{_V}textpath" and (element.get("string") or "").strip():
            found.append(Paragraph(element.get("string", "").strip()))
        elif tag in (_CHART, _CHARTEX):
            found.extend(_chart(walker, element))
        elif tag == f"{_DIAGRAM}relIds":
            found.extend(_diagram(walker, element))
        elif tag == f"{_O}OLEObject":
            kind = element.get("ProgID") or "unknown type"
            walker.context.not_read(f"embedded object ({kind})", f"embedded objects ({kind})")
        elif tag == f"{_A}p":
            text = "".join(run.text or "" for run in element.iter(f"{_A}t"))
            if text.strip():
                found.append(Paragraph(text))
        else:
            stack.extend(reversed(list(element)))
    return found


def _related_part(walker: StoryWalker, relationship_id: str | None) -> str | None:
    if not relationship_id:
        return None
    relationship = walker.context.package.target(walker.part, relationship_id)
    if relationship is None or relationship.external:
        return None
    return relationship.target


def _chart(walker: StoryWalker, element: Any) -> list[Block]:
    part = _related_part(walker, element.get(f"{_R}id"))
    if part is None:
        walker.context.not_read("chart (its part is missing)", "charts (their parts are missing)")
        return []
    try:
        chart = read_chart(walker.context.package, part)
    except DocumentError as error:
        walker.context.warn(f"chart {part} not read: {error}")
        return []
    for warning in chart.warnings:
        walker.context.warn(warning)
    return [ChartBlock(chart)]


def _diagram(walker: StoryWalker, element: Any) -> list[Block]:
    """A SmartArt diagram's text: each data point's paragraphs, in the data model's order."""
    part = _related_part(walker, element.get(f"{_R}dm"))
    if part is None:
        walker.context.not_read("SmartArt diagram (its data part is missing)", "SmartArt diagrams")
        return []
    try:
        root = walker.context.package.xml(part)
    except DocumentError as error:
        walker.context.warn(f"SmartArt diagram {part} not read: {error}")
        return []
    found: list[Block] = []
    for point in root.iter(f"{_DIAGRAM}pt"):
        body = point.find(f"{_DIAGRAM}t")
        if body is None:
            continue
        for paragraph in body.iter(f"{_A}p"):
            text = "".join(run.text or "" for run in paragraph.iter(f"{_A}t"))
            if text.strip():
                found.append(Paragraph(text))
    return found
