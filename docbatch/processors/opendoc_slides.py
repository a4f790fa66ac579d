"""OpenDocument presentations (ODP, OTP): one page per slide, with tables, alternative text and notes.

Slides are the ``draw:page`` elements of ``office:presentation`` in content.xml (OpenDocument 1.3
Part 3 §10.2.4), read shape by shape in document order with docbatch.processors.opendoc_text; speaker
notes are the text frames of ``presentation:notes`` (§10.2.5). A slide is hidden when its drawing-page
style says ``presentation:visibility="hidden"`` (§20.247). Properties come only from meta.xml.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction, Page
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.markup import heading
from docbatch.processors.opendoc import odf_metadata, open_odf
from docbatch.processors.opendoc_text import DRAW, OFFICE, PRESENTATION, OdfTextReader, markdown_lines
from docbatch.processors.slide_shapes import Block

_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
# Impress names slides "page1", "page2"... until the author renames them; such a name says nothing.
_AUTOMATIC_NAME = re.compile(r"^page\d+$")
# Frames of a notes page that show the slide or repeat page furniture, not the notes.
_NOTES_FURNITURE = frozenset({"page", "page-number", "header", "footer", "date-time"})


class OdpProcessor(Processor):
    name = "odp"
    kinds: ClassVar[tuple[str, ...]] = ("odp",)
    library = "defusedxml"
    description = "OpenDocument presentation text, tables, alternative text and speaker notes, one page per slide"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        with open_odf(source.path) as package:
            presentation = package.content.find(f"{OFFICE}body/{OFFICE}presentation")
            if presentation is None:
                raise CorruptDocument("not an OpenDocument presentation: content.xml has no office:presentation body")
            hidden_styles = _hidden_page_styles(package.content)
            declarations = _declared_texts(presentation)
            reader = OdfTextReader(package.archive)
            pages: list[Page] = []
            notes_count = hidden = 0
            for number, slide in enumerate(presentation.findall(f"{DRAW}page"), start=1):
                page, has_notes = _read_slide(reader, slide, number, declarations)
                pages.append(page)
                notes_count += has_notes
                hidden += slide.get(f"{DRAW}style-name") in hidden_styles
            metadata = odf_metadata(package.meta)
        metadata["slides"] = len(pages)
        metadata["slides_with_notes"] = notes_count
        metadata["hidden_slides"] = hidden
        stored_title = metadata.get("title")
        title = stored_title if isinstance(stored_title, str) else next((p.label for p in pages if p.label), None)
        return Extraction.from_pages("odp", pages, title=title, metadata=metadata, warnings=reader.warnings)


def _read_slide(reader: OdfTextReader, slide: Any, number: int, declarations: dict[str, str]) -> tuple[Page, bool]:
    """One slide as a page (text, Markdown, label) and whether it has speaker notes. ``declarations``
    holds the header, footer and fixed date texts that pages use by name."""
    before, comments_before = len(reader.warnings), len(reader.comments)
    blocks: list[Block] = []
    for shape in slide:
        if shape.tag == f"{PRESENTATION}notes":
            continue
        found = reader.block(shape, 1)
        if shape.get(f"{PRESENTATION}class") == "title":
            found = [Block(text=b.text, markdown=heading(b.text, 3), heading=True) for b in found if b.text.strip()]
        blocks.extend(found)
    for use in ("use-header-name", "use-footer-name", "use-date-time-name"):
        declared = declarations.get(slide.get(f"{PRESENTATION}{use}", ""), "")
        if declared.strip():
            blocks.append(Block(text=declared, markdown=markdown_lines(declared)))
    notes = _notes_text(reader, slide.find(f"{PRESENTATION}notes"))
    # Warnings raised while reading this slide name it.
    reader.warnings[before:] = [f"slide {number}: {warning}" for warning in reader.warnings[before:]]
    lines = [block.text for block in blocks if block.text]
    markdown = [block.markdown for block in blocks if block.markdown]
    if notes:
        lines.append(f"Notes: {notes}")
        markdown.append("**Notes:**\n\n" + "\n\n".join(_escaped_lines(notes)))
    for comment in reader.comments[comments_before:]:
        lines.append(f"Comment: {comment}")
        markdown.append("\n\n".join(_escaped_lines(f"Comment: {comment}")))
    title = next((" ".join(block.text.split()) for block in blocks if block.heading), None)
    name = slide.get(f"{DRAW}name", "")
    label = name if name and not _AUTOMATIC_NAME.match(name) else title
    return Page(number=number, text="\n".join(lines), label=label, markdown="\n\n".join(markdown)), bool(notes)


def _notes_text(reader: OdfTextReader, notes: Any) -> str:
    if notes is None:
        return ""
    shapes = [shape for shape in notes if shape.get(f"{PRESENTATION}class") not in _NOTES_FURNITURE]
    blocks = [block for shape in shapes for block in reader.block(shape, 1)]
    return "\n".join(block.text for block in blocks if block.text.strip())


def _escaped_lines(text: str) -> list[str]:
    return [markdown_lines(line) for line in text.splitlines() if line.strip()]


def _hidden_page_styles(content: Any) -> set[str]:
    """Names of the drawing-page styles that hide their slide."""
    hidden: set[str] = set()
    for style in content.iter(f"{_STYLE}style"):
        properties = style.find(f"{_STYLE}drawing-page-properties")
        if properties is not None and properties.get(f"{PRESENTATION}visibility") == "hidden":
            hidden.add(style.get(f"{_STYLE}name", ""))
    return hidden


def _declared_texts(presentation: Any) -> dict[str, str]:
    """Header, footer and fixed date-time texts declared once and used by slides by name (§10.9)."""
    texts: dict[str, str] = {}
    for kind in ("header-decl", "footer-decl", "date-time-decl"):
        for declaration in presentation.findall(f"{PRESENTATION}{kind}"):
            if kind == "date-time-decl" and declaration.get(f"{PRESENTATION}source") != "fixed":
                continue  # a date shown as "today" has no text of its own
            texts[declaration.get(f"{PRESENTATION}name", "")] = " ".join("".join(declaration.itertext()).split())
    return texts
