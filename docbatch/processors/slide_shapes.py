"""The shapes of a PresentationML shape tree as text and Markdown blocks, in document order.

Covers ECMA-376 Part 1 §19.3.1 (p:sp, p:grpSp, p:graphicFrame, p:pic, p:cxnSp), DrawingML text bodies
(§21.1.2: a:p paragraphs with runs, fields and line breaks), tables (§21.1.3, a:tbl), charts (§21.2,
through docbatch.processors.charts), SmartArt (§21.4, the diagram data part's text) and Markup
Compatibility alternatives (ECMA-376 Part 3 §10.2, mc:AlternateContent: the first Choice that gives
text, else the Fallback; never both). A shape of a kind not listed is read by the DrawingML text it
carries. A shape that fails is reported in ``warnings`` and read again for any text it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docbatch.processors.charts import read_chart
from docbatch.processors.markup import escape_markdown, heading, markdown_table
from docbatch.processors.opc import REL_NS, OpcPackage

_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_DGM = "{http://schemas.openxmlformats.org/drawingml/2006/diagram}"
_MATH = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_R_ID = f"{{{REL_NS}}}id"
_R_DM = f"{{{REL_NS}}}dm"
_TITLE_PLACEHOLDERS = frozenset({"title", "ctrTitle"})
# Placeholders whose paragraphs are bulleted unless a paragraph says otherwise (content and body).
_BULLETED_PLACEHOLDERS = frozenset({"", "body", "obj"})
_MAX_GROUP_DEPTH = 64
# Parts of a shape that carry properties, never text of their own.
_PROPERTY_TAGS = frozenset(
    {f"{_P}nvGrpSpPr", f"{_P}grpSpPr", f"{_P}extLst", f"{_P}contentPart", f"{_P}nvSpPr", f"{_P}spPr", f"{_P}style"}
)


@dataclass(frozen=True)
class Block:
    """One unit of a slide: its plain text (lines), its Markdown, and whether it is the slide title."""

    text: str
    markdown: str
    heading: bool = False


def placeholder_type(shape: Any) -> str | None:
    """The placeholder type of a shape (p:nvPr/p:ph type, "" for a placeholder with no type, i.e. a
    content placeholder), or None when the shape is not a placeholder."""
    for properties in shape:
        if properties.tag.startswith(f"{_P}nv"):
            placeholder = properties.find(f"{_P}nvPr/{_P}ph")
            return None if placeholder is None else placeholder.get("type", "")
    return None


def paragraph_text(paragraph: Any) -> str:
    """The text of one a:p: runs and fields in order, a:br as a line break, equations as their text."""
    parts: list[str] = []
    for child in paragraph:
        if child.tag in (f"{_A}r", f"{_A}fld"):
            parts.append(child.findtext(f"{_A}t") or "")
        elif child.tag == f"{_A}br":
            parts.append("\n")
        elif child.tag == f"{_MC}AlternateContent":
            parts.append(_alternate_text(child))
        elif child.tag.endswith("}m"):  # a14:m: an Office Math equation inside the paragraph
            parts.append("".join(t.text or "" for t in child.iter(f"{_MATH}t")))
    return "".join(parts)


def _alternate_text(element: Any) -> str:
    for branch in [*element.findall(f"{_MC}Choice"), *element.findall(f"{_MC}Fallback")]:
        text = "".join(_inline_text(child) for child in branch)
        if text:
            return text
    return ""


def _inline_text(element: Any) -> str:
    """Text of an element found inside a paragraph: a run, a field or an equation."""
    if element.tag in (f"{_A}r", f"{_A}fld"):
        return element.findtext(f"{_A}t") or ""
    return "".join(t.text or "" for t in element.iter() if t.tag in (f"{_A}t", f"{_MATH}t"))


def paragraphs_of(body: Any) -> list[tuple[int, bool | None, str]]:
    """The paragraphs of a text body as (indent level, bulleted?, text); ``bulleted`` is None when the
    paragraph does not say (it then follows its placeholder's list style)."""
    found = []
    for paragraph in body.findall(f"{_A}p"):
        properties = paragraph.find(f"{_A}pPr")
        level, bulleted = 0, None
        if properties is not None:
            level = int(properties.get("lvl", "0")) if properties.get("lvl", "0").isdigit() else 0
            if properties.find(f"{_A}buNone") is not None:
                bulleted = False
            elif properties.find(f"{_A}buChar") is not None or properties.find(f"{_A}buAutoNum") is not None:
                bulleted = True
        found.append((level, bulleted, paragraph_text(paragraph)))
    return found


def _text_markdown(text: str) -> str:
    # A line break inside a paragraph stays a line break (CommonMark hard break: backslash at line end).
    return "\\\n".join(escape_markdown(line) for line in text.split("\n"))


def _body_block(body: Any, bulleted_by_default: bool) -> Block | None:
    paragraphs = [p for p in paragraphs_of(body) if p[2].strip()]
    if not paragraphs:
        return None
    chunks: list[str] = []
    for level, bulleted, text in paragraphs:
        as_item = bulleted if bulleted is not None else bulleted_by_default
        if as_item:
            item = "  " * level + "- " + _text_markdown(text).replace("\n", "\n" + "  " * (level + 1))
            if chunks and chunks[-1].lstrip().startswith("- "):
                chunks[-1] += "\n" + item
                continue
            chunks.append(item)
        else:
            chunks.append(_text_markdown(text))
    return Block(text="\n".join(text for _, _, text in paragraphs), markdown="\n\n".join(chunks))


class ShapeReader:
    """Reads the shapes of one part (a slide or a notes page) of ``package``; ``where`` names the part
    in warnings ("slide 3"), which collect in ``warnings``."""

    def __init__(self, package: OpcPackage, part: str, where: str) -> None:
        self.package = package
        self.part = part
        self.where = where
        self.warnings: list[str] = []

    def shape_tree(self, tree: Any) -> list[Block]:
        return [block for shape in tree for block in self.shape(shape, 0)]

    def shape(self, element: Any, depth: int) -> list[Block]:
        """Blocks of one shape; a shape that cannot be read is warned about and its text kept."""
        try:
            return self._shape(element, depth)
        except Exception as error:  # one bad shape must not lose the slide, whatever broke
            name = _shape_name(element)
            self.warnings.append(f"{self.where}: shape {name!r} could not be read fully ({error}); kept its text")
            return _carried_text(element)

    def _shape(self, element: Any, depth: int) -> list[Block]:
        tag = element.tag
        if tag in _PROPERTY_TAGS:
            return []
        if tag == f"{_P}sp":
            return self._text_shape(element)
        if tag == f"{_P}grpSp":
            if depth >= _MAX_GROUP_DEPTH:
                self.warnings.append(f"{self.where}: groups nested over {_MAX_GROUP_DEPTH} deep; inner ones skipped")
                return []
            return [block for child in element for block in self.shape(child, depth + 1)]
        if tag == f"{_P}graphicFrame":
            return self._graphic_frame(element)
        if tag == f"{_P}pic":
            return _alt_text(element)
        if tag == f"{_MC}AlternateContent":
            for branch in [*element.findall(f"{_MC}Choice"), *element.findall(f"{_MC}Fallback")]:
                blocks = [block for child in branch for block in self.shape(child, depth)]
                if blocks:
                    return blocks
            return []
        return _carried_text(element)

    def _text_shape(self, shape: Any) -> list[Block]:
        kind = placeholder_type(shape)
        blocks = _alt_text(shape)
        body = shape.find(f"{_P}txBody")
        if body is None:
            return blocks
        if kind in _TITLE_PLACEHOLDERS:
            text = "\n".join(p[2] for p in paragraphs_of(body) if p[2].strip())
            if text:
                blocks.append(Block(text=text, markdown=heading(text, 3), heading=True))
            return blocks
        block = _body_block(body, bulleted_by_default=kind in _BULLETED_PLACEHOLDERS)
        return blocks + ([block] if block is not None else [])

    def _graphic_frame(self, frame: Any) -> list[Block]:
        blocks = _alt_text(frame)
        data = frame.find(f"{_A}graphic/{_A}graphicData")
        if data is None:
            return blocks
        table = data.find(f"{_A}tbl")
        if table is not None:
            block = _table_block(table)
            return blocks + ([block] if block.text else [])
        if data.get("uri", "").endswith("/ole"):
            return blocks + self._ole_object(data)
        for element in data:
            if element.get(_R_ID) is not None and element.tag.endswith("}chart"):
                return blocks + self._chart(element.get(_R_ID))
            if element.tag == f"{_DGM}relIds":
                return blocks + self._smartart(element.get(_R_DM, ""))
        return blocks + _carried_text(data)

    def _related_part(self, relationship_id: str, what: str) -> str | None:
        relationship = self.package.target(self.part, relationship_id)
        if relationship is None or relationship.external or not self.package.has(relationship.target):
            self.warnings.append(f"{self.where}: {what} part ({relationship_id or 'no id'}) is missing; not read")
            return None
        return relationship.target

    def _chart(self, relationship_id: str) -> list[Block]:
        part = self._related_part(relationship_id, "chart")
        if part is None:
            return []
        chart = read_chart(self.package, part)
        self.warnings.extend(f"{self.where}: {warning}" for warning in chart.warnings)
        return [Block(text=chart.text(), markdown=chart.markdown())]

    def _smartart(self, relationship_id: str) -> list[Block]:
        part = self._related_part(relationship_id, "SmartArt data")
        if part is None:
            return []
        lines: list[str] = []
        for point in self.package.xml(part).iter(f"{_DGM}pt"):
            if point.get("type") in ("parTrans", "sibTrans"):
                continue  # connector points carry no text of their own
            body = point.find(f"{_DGM}t")
            if body is not None:
                lines.extend(text for _, _, text in paragraphs_of(body) if text.strip())
        if not lines:
            return []
        return [Block(text="\n".join(lines), markdown="\n".join("- " + _text_markdown(line) for line in lines))]

    def _ole_object(self, data: Any) -> list[Block]:
        program = next((e.get("progId") for e in data.iter() if e.tag.endswith("}oleObj") and e.get("progId")), None)
        self.warnings.append(f"{self.where}: embedded object ({program or 'unknown program'}) not read")
        return []


def _shape_name(element: Any) -> str:
    for properties in element.iter():
        if properties.tag.endswith("}cNvPr"):
            return str(properties.get("name") or properties.get("id") or "?")
    return str(element.tag).rsplit("}", 1)[-1]


def _alt_text(shape: Any) -> list[Block]:
    """Alternative text of a shape (p:cNvPr descr, else its title) as ``[image: TEXT]``."""
    for properties in shape:
        if properties.tag.startswith(f"{_P}nv"):
            names = properties.find(f"{_P}cNvPr")
            description = "" if names is None else (names.get("descr") or names.get("title") or "")
            if description.strip():
                text = f"[image: {' '.join(description.split())}]"
                return [Block(text=text, markdown=escape_markdown(text))]
            return []
    return []


def _table_block(table: Any) -> Block:
    rows: list[list[str]] = []
    for row in table.findall(f"{_A}tr"):
        cells = []
        for cell in row.findall(f"{_A}tc"):
            body = cell.find(f"{_A}txBody")
            paragraphs = paragraphs_of(body) if body is not None else []
            cells.append("\n".join(text for _, _, text in paragraphs if text.strip()))
        rows.append(cells)
    # Rows with no text at all are left out of the plain text (they would be lines of bare " | ").
    text = "\n".join(" | ".join(" ".join(cell.split()) for cell in row) for row in rows if any(row))
    return Block(text=text, markdown=markdown_table(rows))


def _carried_text(element: Any) -> list[Block]:
    """Whatever DrawingML text an element carries (its a:p paragraphs, or bare a:t runs), plus its
    alternative text: how a shape of a kind we do not know is read."""
    blocks = _alt_text(element)
    paragraphs = [paragraph_text(p) for p in element.iter(f"{_A}p")]
    lines = [p for p in paragraphs if p.strip()]
    if not lines:
        lines = [t.text for t in element.iter(f"{_A}t") if t.text and t.text.strip()]
    if lines:
        blocks.append(Block(text="\n".join(lines), markdown="\n\n".join(_text_markdown(line) for line in lines)))
    return blocks
