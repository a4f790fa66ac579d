"""PowerPoint decks (PPTX, PPTM, PPSX, POTX and Strict forms) read from their PresentationML parts.

A deck is an OPC package (ECMA-376 Part 2) whose main part, ``ppt/presentation.xml``, lists the
slides in presentation order (``p:sldIdLst``, ECMA-376 Part 1 §19.2.1.34); each slide part holds a
shape tree (``p:spTree``, §19.3.1.45) read here in document order: text shapes, groups, tables,
charts, SmartArt, pictures' alternative text, and whatever else carries DrawingML text. Speaker notes
come from the slide's notesSlide part. We walk the XML ourselves rather than use python-pptx, which
refuses the macro-enabled, show and template content types, fails a whole deck on one shape it cannot
type, and skips shapes it does not know. One shape or slide that cannot be read is reported in the
warnings and the rest of the deck is still read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction, Page
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.opc import REL_NS, OpcPackage
from docbatch.processors.slide_shapes import Block, ShapeReader, placeholder_type

_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
# Placeholders of a notes page that show the slide image or repeat page furniture, not the notes.
_NOTES_FURNITURE = frozenset({"sldImg", "sldNum", "hdr", "ftr", "dt"})


@dataclass
class _SlideResult:
    page: Page
    hidden: bool = False
    has_notes: bool = False
    warnings: list[str] = field(default_factory=list)


class PptxProcessor(Processor):
    name = "pptx"
    kinds: ClassVar[tuple[str, ...]] = ("pptx",)
    library = "defusedxml"
    description = "slide text, tables, charts, SmartArt, alternative text and speaker notes, one page per slide"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        with OpcPackage(source.path) as package:
            presentation_part = package.main_part
            presentation = package.xml(presentation_part)
            if presentation.tag != f"{_P}presentation":
                raise CorruptDocument(f"{presentation_part} is not a PresentationML presentation")
            slide_parts, warnings = _slide_parts(package, presentation_part, presentation)
            results = [_read_slide(package, part, number) for number, part in enumerate(slide_parts, start=1)]
            metadata = package.core_properties()
        pages = [result.page for result in results]
        for result in results:
            warnings.extend(result.warnings)
        metadata["slides"] = len(pages)
        metadata["slides_with_notes"] = sum(result.has_notes for result in results)
        metadata["hidden_slides"] = sum(result.hidden for result in results)
        title = metadata.get("title")
        if not isinstance(title, str):
            title = next((page.label for page in pages if page.label), None)
        return Extraction.from_pages("pptx", pages, title=title, metadata=metadata, warnings=warnings)


def _slide_parts(package: OpcPackage, presentation_part: str, presentation: Any) -> tuple[list[str], list[str]]:
    """Slide part names in presentation order (p:sldIdLst); slides the package holds but the list
    does not name are not shown by PowerPoint and are left out."""
    parts: list[str] = []
    warnings: list[str] = []
    id_list = presentation.find(f"{_P}sldIdLst")
    for number, slide_id in enumerate(id_list if id_list is not None else [], start=1):
        relationship = package.target(presentation_part, slide_id.get(f"{{{REL_NS}}}id", ""))
        if relationship is None or relationship.external or not package.has(relationship.target):
            warnings.append(f"slide {number}: its part is missing from the package; slide skipped")
            continue
        parts.append(relationship.target)
    return parts, warnings


def _read_slide(package: OpcPackage, part: str, number: int) -> _SlideResult:
    try:
        slide = package.xml(part)
    except CorruptDocument as error:
        return _SlideResult(Page(number=number, text=""), warnings=[f"slide {number} could not be read: {error}"])
    reader = ShapeReader(package, part, f"slide {number}")
    tree = slide.find(f"{_P}cSld/{_P}spTree")
    blocks = reader.shape_tree(tree) if tree is not None else []
    label = next((block.text for block in blocks if block.heading), None)
    notes = _notes_blocks(package, part, number, reader.warnings)
    lines = [block.text for block in blocks if block.text]
    markdown = [block.markdown for block in blocks if block.markdown]
    if notes:
        notes_text = "\n".join(block.text for block in notes if block.text)
        lines.append(f"Notes: {notes_text}")
        markdown.append("**Notes:**\n\n" + "\n\n".join(block.markdown for block in notes if block.markdown))
    page = Page(
        number=number,
        text="\n".join(lines),
        label=" ".join(label.split()) if label else None,
        markdown="\n\n".join(markdown),
    )
    hidden = slide.get("show") in ("0", "false")
    return _SlideResult(page, hidden=hidden, has_notes=bool(notes), warnings=reader.warnings)


def _notes_blocks(package: OpcPackage, slide_part: str, number: int, warnings: list[str]) -> list[Block]:
    """The speaker notes of a slide: the text of its notes page apart from the slide image and the
    page furniture (number, header, footer, date)."""
    relationships = package.related(slide_part, "notesSlide")
    if not relationships or relationships[0].external:
        return []
    notes_part = relationships[0].target
    try:
        notes = package.xml(notes_part)
    except CorruptDocument as error:
        warnings.append(f"slide {number}: speaker notes could not be read: {error}")
        return []
    tree = notes.find(f"{_P}cSld/{_P}spTree")
    if tree is None:
        return []
    reader = ShapeReader(package, notes_part, f"slide {number} notes")
    kept = [shape for shape in tree if placeholder_type(shape) not in _NOTES_FURNITURE]
    blocks = [block for shape in kept for block in reader.shape(shape, 0)]
    warnings.extend(reader.warnings)
    return [Block(text=block.text, markdown=block.markdown) for block in blocks if block.text.strip()]
