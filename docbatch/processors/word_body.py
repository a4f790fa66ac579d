"""Walking a WordprocessingML story (body, text box, note, comment, header) into blocks, in reading order.

Follows ECMA-376 Part 1 §17: paragraphs (§17.3.1) and tables (§17.4), with the wrappers that may
surround them at block, row, cell and run level read through: content controls (``w:sdt`` →
``w:sdtContent``, §17.5.2), custom XML and smart tags (§17.5.1), hyperlinks, markup compatibility
choices (``mc:AlternateContent``: one branch, never both, ECMA-376 Part 3 §10.2). Tracked changes are
read as accepted (§17.13.5): insertions and move destinations in, deletions and move sources out,
deleted table rows out, a paragraph whose mark is deleted joined to the next paragraph (§17.13.5.15).
Complex fields (§17.16.18) keep the result the reader sees and drop the instruction; simple fields
(§17.16.19) keep their content. An element this module does not know is
read through, so text inside an unknown wrapper is kept rather than lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from docbatch.processors.opc import OpcPackage
from docbatch.processors.word_drawing import choose_branch, read_graphic
from docbatch.processors.word_math import M, math_text
from docbatch.processors.word_numbering import Numbering, format_number
from docbatch.processors.word_render import Block, Cell, Paragraph, Table
from docbatch.processors.word_styles import (
    NumberingReference,
    Styles,
    W,
    int_val,
    numbering_reference,
    outline_level,
    val,
)

MC_ALTERNATE = "{http://schemas.openxmlformats.org/markup-compatibility/2006}AlternateContent"
# Read through as if they were not there (at block, row, cell and run level).
_WRAPPERS = frozenset(f"{W}{name}" for name in ("sdt", "sdtContent", "customXml", "smartTag", "ins", "moveTo"))
# Not read: deleted content and the properties of content controls.
_SKIPPED = frozenset(f"{W}{name}" for name in ("del", "moveFrom", "sdtPr", "sdtEndPr"))
_CHARACTERS = {f"{W}tab": "\t", f"{W}ptab": "\t", f"{W}br": "\n", f"{W}cr": "\n", f"{W}noBreakHyphen": "-"}
# Run content with no text the reader sees (or text read elsewhere: note bodies, the result of a field).
_SILENT = frozenset(
    f"{W}{name}"
    for name in (
        "instrText", "delText", "delInstrText", "softHyphen", "footnoteRef", "endnoteRef", "annotationRef",
        "commentReference", "separator", "continuationSeparator", "lastRenderedPageBreak", "pgNum",
        "dayShort", "dayLong", "monthShort", "monthLong", "yearShort", "yearLong", "fldData",
        "commentRangeStart", "commentRangeEnd", "bookmarkStart", "bookmarkEnd", "proofErr",
    )
)  # fmt: skip
_GRAPHICS = frozenset({f"{W}drawing", f"{W}pict", f"{W}object"})
_NOTE_FORMATS = {"footnote": "decimal", "endnote": "lowerRoman"}  # Word's defaults (§17.11.17, §17.11.4)
_SYMBOL_FONTS = ("symbol", "wingdings", "webdings", "zapf dingbats", "marlett")
_MAX_DEPTH = 40  # nested tables / text boxes / wrappers deeper than this are read as flat text


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


@dataclass
class WordContext:
    """What all stories of one document share: the package, styles, numbering counters, note numbers
    (assigned in order of first reference), what could not be read, and counts for the metadata."""

    package: OpcPackage
    styles: Styles
    numbering: Numbering
    note_formats: dict[str, str] = field(default_factory=lambda: dict(_NOTE_FORMATS))
    note_numbers: dict[str, dict[str, int]] = field(default_factory=lambda: {"footnote": {}, "endnote": {}})
    unread: Counter[tuple[str, str]] = field(default_factory=Counter)  # (singular, plural) -> count
    warnings: list[str] = field(default_factory=list)
    paragraphs: int = 0
    tables: int = 0

    def note_mark(self, kind: str, note_id: str) -> str:
        """The mark shown for a footnote or endnote reference, e.g. "1" or "ii"."""
        numbers = self.note_numbers[kind]
        number = numbers.setdefault(note_id, len(numbers) + 1)
        return format_number(number, self.note_formats.get(kind, "decimal"))

    def not_read(self, singular: str, plural: str) -> None:
        self.unread[(singular, plural)] += 1

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


@dataclass
class ReadParagraph:
    """A ``w:p`` as read: the paragraph, the blocks it anchors (text boxes, images' alternative text,
    charts; placed right after it) and, when its paragraph mark is a tracked deletion, the numbering it
    would show if it stayed a paragraph of its own (``deleted_mark`` set, ``numbering`` maybe None)."""

    paragraph: Paragraph
    anchored: list[Block]
    deleted_mark: bool = False
    numbering: NumberingReference | None = None
    style_id: str | None = None


@dataclass
class _Field:
    in_result: bool = False
    hidden_characters: int = 0


class StoryWalker:
    """Reads one story part (``part`` names it, for its relationships) into blocks.

    Field state lives here because a complex field may span paragraphs (a table of contents does).
    Text boxes, images' alternative text, charts and diagrams found inside a paragraph are collected
    while the paragraph is read and placed right after it.
    """

    def __init__(self, context: WordContext, part: str) -> None:
        self.context = context
        self.part = part
        self._fields: list[_Field] = []
        self._hidden = 0  # open fields still in their instruction part
        self._pending: list[Block] = []
        self._depth = 0

    def story(self, container: Any) -> list[Block]:
        """All blocks of a story's root element (``w:body``, ``w:hdr``, ``w:footnote``, ...)."""
        blocks = self.blocks(container)
        hidden = sum(f.hidden_characters for f in self._fields if not f.in_result)
        if hidden:
            self.context.warn(f"{self.part}: a field never ends; {hidden} characters after its start were not read")
        return blocks

    def blocks(self, container: Any) -> list[Block]:
        """The paragraphs and tables of a block container, each followed by what it anchors."""
        if self._depth > _MAX_DEPTH:
            return self._flat(container)
        self._depth += 1
        try:
            blocks: list[Block] = []
            held: ReadParagraph | None = None  # a paragraph whose mark is deleted, to join the next one
            for child in self.logical_children(container):
                tag = child.tag
                if tag in (f"{W}sectPr", f"{W}tblPr", f"{W}tblGrid", f"{W}trPr", f"{W}tcPr") or tag in _SILENT:
                    continue
                if tag == f"{W}p":
                    read = self.paragraph(child)
                    if held is not None:
                        read = _joined(held, read)
                    held = read if read.deleted_mark else None
                    if held is None:
                        blocks.extend([read.paragraph, *read.anchored])
                    continue
                if held is not None:
                    blocks.extend(self._standalone(held))
                    held = None
                if tag == f"{W}tbl":
                    blocks.append(self.table(child))
                elif tag == f"{W}altChunk":
                    self.context.not_read("imported document (altChunk)", "imported documents (altChunk)")
                elif _contains_blocks(child):
                    blocks.extend(self.blocks(child))
                else:
                    blocks.extend(self._loose_content(child))
            if held is not None:
                blocks.extend(self._standalone(held))
            return blocks
        finally:
            self._depth -= 1

    def _standalone(self, held: ReadParagraph) -> list[Block]:
        """A paragraph whose mark is deleted but which has no next paragraph to join (a table or the end
        of its cell or story follows): Word keeps it apart, numbered when it has text of its own."""
        if held.numbering is not None and held.paragraph.text.strip():
            held.paragraph.label = self.context.numbering.label(held.numbering, held.style_id)
        return [held.paragraph, *held.anchored]

    def _loose_content(self, element: Any) -> list[Block]:
        """Run-level content found where blocks belong: read as a paragraph of its own."""
        saved, self._pending = self._pending, []
        text = self.inline_text([element])
        found: list[Block] = [Paragraph(text)] if text.strip() else []
        found.extend(self._pending)
        self._pending = saved
        return found

    def _flat(self, element: Any) -> list[Block]:
        self.context.warn("content nested too deeply was read as flat text")
        text = "".join(t.text or "" for t in element.iter(f"{W}t"))
        return [Paragraph(text)] if text.strip() else []

    def logical_children(self, element: Any) -> Iterator[Any]:
        """The children of ``element`` with wrappers read through and deleted content left out,
        without recursion (content controls can nest very deeply)."""
        stack = [iter(element)]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
            elif child.tag in _SKIPPED:
                continue
            elif child.tag in _WRAPPERS:
                stack.append(iter(child))
            elif child.tag == MC_ALTERNATE:
                branch = choose_branch(child)
                if branch is not None:
                    stack.append(iter(branch))
            else:
                yield child

    def paragraph(self, element: Any) -> ReadParagraph:
        """A ``w:p`` with the text boxes, images' alternative text and charts it anchors. A paragraph
        whose mark is deleted is not numbered here: it joins the next paragraph (see ``blocks``)."""
        self.context.paragraphs += 1
        properties = element.find(f"{W}pPr")
        style_id = val(properties.find(f"{W}pStyle")) if properties is not None else None
        style = self.context.styles.resolve(style_id)
        level = outline_level(properties)
        paragraph = Paragraph("", level if level is not None else style.outline_level, style.is_title)
        reference = numbering_reference(properties)
        if reference is None or (reference.num_id is None and reference.level is None):
            reference = style.numbering
        elif reference.num_id is None and style.numbering is not None:
            reference = type(reference)(num_id=style.numbering.num_id, level=reference.level)
        mark_deleted = properties is not None and properties.find(f"{W}rPr/{W}del") is not None
        if reference is not None and not mark_deleted:
            paragraph.label = self.context.numbering.label(reference, style.style_id)
        saved, self._pending = self._pending, []
        paragraph.text = self.inline_text(element)
        anchored, self._pending = self._pending, saved
        if mark_deleted:
            return ReadParagraph(paragraph, anchored, True, reference, style.style_id)
        return ReadParagraph(paragraph, anchored)

    def table(self, element: Any) -> Table:
        """A ``w:tbl``: rows of cells; deleted rows and cells left out, skipped grid columns
        (``w:gridBefore``/``w:gridAfter``) as empty cells so that columns stay aligned."""
        self.context.tables += 1
        table = Table()
        for row in self.logical_children(element):
            if row.tag != f"{W}tr":
                continue
            row_properties = row.find(f"{W}trPr")
            if row_properties is not None and row_properties.find(f"{W}del") is not None:
                continue
            cells = [Cell([]) for _ in range(_grid_count(row_properties, "gridBefore"))]
            for cell in self.logical_children(row):
                if cell.tag != f"{W}tc":
                    continue
                cell_properties = cell.find(f"{W}tcPr")
                if cell_properties is not None and cell_properties.find(f"{W}cellDel") is not None:
                    continue
                span = int_val(cell_properties.find(f"{W}gridSpan")) if cell_properties is not None else None
                cells.append(Cell(self.blocks(cell), span=max(span or 1, 1)))
            cells.extend(Cell([]) for _ in range(_grid_count(row_properties, "gridAfter")))
            table.rows.append(cells)
        return table

    def inline_text(self, element: Any) -> str:
        """The text of a paragraph (or any run-level container) as the reader sees it."""
        parts: list[str] = []
        self._collect(element, parts, 0)
        return "".join(parts)

    def _emit(self, parts: list[str], text: str) -> None:
        if self._hidden:
            self._fields[-1].hidden_characters += len(text)
        else:
            parts.append(text)

    def _collect(self, element: Any, parts: list[str], depth: int) -> None:
        for child in self.logical_children(element):
            tag = child.tag
            if tag == f"{W}t":
                self._emit(parts, child.text or "")
            elif tag in _CHARACTERS:
                self._emit(parts, _CHARACTERS[tag])
            elif tag in _SILENT or _local(tag).endswith("Pr"):
                continue
            elif tag == f"{W}fldChar":
                self._field_character(child.get(f"{W}fldCharType"))
            elif tag == f"{W}sym":
                self._emit(parts, _symbol(child))
            elif tag in (f"{M}oMath", f"{M}oMathPara"):
                self._emit(parts, math_text(child))
            elif tag in (f"{W}footnoteReference", f"{W}endnoteReference"):
                self._note_reference(child, parts)
            elif tag in _GRAPHICS:
                self._pending.extend(read_graphic(self, child))
            elif tag in (f"{W}p", f"{W}tbl"):
                self._pending.extend(self.blocks(_Holder(child)))  # a block where runs belong
            elif tag == f"{W}subDoc":
                self.context.not_read("subdocument (a separate file)", "subdocuments (separate files)")
            elif tag == f"{W}ruby":
                self._ruby(child, parts, depth)
            elif depth > _MAX_DEPTH * 4:
                self.context.warn("content nested too deeply was read as flat text")
                self._emit(parts, "".join(t.text or "" for t in child.iter(f"{W}t")))
            else:
                self._collect(child, parts, depth + 1)  # runs, hyperlinks, fields, unknown wrappers

    def _field_character(self, kind: str | None) -> None:
        if kind == "begin":
            self._fields.append(_Field())
            self._hidden += 1
        elif kind == "separate" and self._fields and not self._fields[-1].in_result:
            self._fields[-1].in_result = True
            self._hidden -= 1
        elif kind == "end" and self._fields and not self._fields.pop().in_result:
            self._hidden -= 1

    def _note_reference(self, element: Any, parts: list[str]) -> None:
        kind = "footnote" if element.tag == f"{W}footnoteReference" else "endnote"
        mark = self.context.note_mark(kind, element.get(f"{W}id", ""))
        if element.get(f"{W}customMarkFollows") not in ("1", "true", "on"):
            self._emit(parts, f"[{mark}]")

    def _ruby(self, element: Any, parts: list[str], depth: int) -> None:
        """Ruby (phonetic guide, §17.3.3.25): the base text, then the guide text in parentheses."""
        base, guide = element.find(f"{W}rubyBase"), element.find(f"{W}rt")
        if base is not None:
            self._collect(base, parts, depth + 1)
        if guide is not None:
            guide_text = self.inline_text(guide)
            if guide_text.strip():
                self._emit(parts, f"({guide_text})")


def _joined(held: ReadParagraph, read: ReadParagraph) -> ReadParagraph:
    """The paragraph ``read`` with the text of ``held`` (whose mark is deleted) before its own, no
    separator between them (§17.13.5.15). The joined paragraph keeps the properties of ``read``, whose
    mark survives (paragraph properties belong to the mark); what either anchors follows it."""
    read.paragraph.text = held.paragraph.text + read.paragraph.text
    read.anchored = [*held.anchored, *read.anchored]
    return read


class _Holder:
    """A stand-in container holding one element, so a stray block can go through :meth:`blocks`."""

    def __init__(self, element: Any) -> None:
        self._element = element

    def __iter__(self) -> Iterator[Any]:
        return iter([self._element])


def _grid_count(properties: Any, name: str) -> int:
    if properties is None:
        return 0
    count = int_val(properties.find(f"{W}{name}"))
    return min(max(count or 0, 0), 64)


def _contains_blocks(element: Any) -> bool:
    return any(found.tag in (f"{W}p", f"{W}tbl") for found in element.iter())


def _symbol(element: Any) -> str:
    """A ``w:sym`` (§17.3.3.30) as its character when the code is a Unicode character outside the
    Private Use Area. Symbol fonts put their glyphs at U+F000-U+F0FF, or at single-byte codes that are
    not the Latin-1 letters they look like (Symbol's 0xDA is an arrow, not "Ú"): no text to give."""
    try:
        code = int(element.get(f"{W}char", ""), 16)
    except ValueError:
        return ""
    font = (element.get(f"{W}font") or "").lower()
    if code < 0x100 and font.startswith(_SYMBOL_FONTS):
        return ""
    if 0xE000 <= code <= 0xF8FF or code < 0x20 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return ""
    return chr(code)
