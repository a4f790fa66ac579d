"""Word documents (DOCX, DOCM, DOTX, DOTM, Strict OOXML) read from their WordprocessingML parts.

We walk the XML ourselves (ECMA-376 Part 1 §17) rather than use python-docx, which does not see text
boxes, tracked insertions, content controls, equations or list numbers, refuses macro-enabled and
template content types and Strict OOXML, and invents core properties when a file has none.

The text is the body in reading order (see :mod:`docbatch.processors.word_body`), then, each under its
own heading line, "Footnotes", "Endnotes", "Comments" and "Headers and footers". A Word document has no
fixed pages (its layout is computed by the application), so ``pages`` stays empty. Metadata holds only
what the file holds: its core properties (docProps/core.xml), the distinct header and footer texts,
``paragraphs`` and ``tables`` (every one in the body, those inside tables and text boxes included) and
the number of ``footnotes``, ``endnotes`` and ``comments`` when there are any.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import JsonValue

from docbatch.errors import CorruptDocument, DocumentError
from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.markup import escape_markdown
from docbatch.processors.opc import REL_NS, OpcPackage
from docbatch.processors.word_body import StoryWalker, WordContext
from docbatch.processors.word_numbering import Numbering
from docbatch.processors.word_render import Block, Paragraph, markdown, text_lines
from docbatch.processors.word_styles import Styles, W, val

_SKIPPED_NOTE_TYPES = frozenset({"separator", "continuationSeparator", "continuationNotice"})


@dataclass
class _Section:
    """A part of the output after the body: a heading and its entries (each a list of blocks)."""

    title: str
    entries: list[list[Block]]


class DocxProcessor(Processor):
    name = "docx"
    kinds: ClassVar[tuple[str, ...]] = ("docx",)
    library = "defusedxml"
    description = (
        "body in reading order with text boxes, tracked changes accepted, content controls, fields, equations, "
        "list numbers; footnotes, endnotes, comments, headers and footers; core properties"
    )

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        """Raises CorruptDocument when the package or its main part cannot be read; an optional part
        (styles, numbering, notes, comments, a header) that cannot be read gives a warning instead."""
        with OpcPackage(source.path) as package:
            return _read_document(package)


def _read_document(package: OpcPackage) -> Extraction:
    main = package.main_part
    root = package.xml(main)
    body = root.find(f"{W}body")
    if body is None:
        raise CorruptDocument(f"{main} is not a WordprocessingML document (no w:body)")
    warnings: list[str] = []
    styles = Styles(_optional_xml(package, main, "styles", warnings))
    context = WordContext(package, styles, Numbering(_optional_xml(package, main, "numbering", warnings), styles))
    _read_note_formats(_optional_xml(package, main, "settings", warnings), context)
    blocks = StoryWalker(context, main).story(body)
    body_paragraphs, body_tables = context.paragraphs, context.tables
    sections = [
        _Section("Footnotes", _notes(package, main, "footnote", context, warnings)),
        _Section("Endnotes", _notes(package, main, "endnote", context, warnings)),
        _Section("Comments", _comments(package, main, context, warnings)),
    ]
    headers = _headers_and_footers(package, main, root, context, warnings)
    sections.append(_Section("Headers and footers", headers))
    metadata = _metadata(package, warnings)
    header_texts = ["\n".join(text_lines(entry)) for entry in headers]
    if header_texts:
        metadata["headers_footers"] = list[JsonValue](header_texts)
    metadata["paragraphs"] = body_paragraphs
    metadata["tables"] = body_tables
    for section in sections[:3]:
        if section.entries:
            metadata[section.title.lower()] = len(section.entries)
    title = metadata.get("title")
    if not isinstance(title, str):
        title = _first_title(blocks)
    warnings.extend(context.warnings)
    warnings.extend(_unread_warnings(context))
    return Extraction(
        kind="docx",
        title=title,
        metadata=metadata,
        text=_text(blocks, sections),
        markdown=_markdown(blocks, sections),
        warnings=warnings,
    )


def _optional_xml(package: OpcPackage, main: str, relationship: str, warnings: list[str]) -> Any | None:
    """The root element of the main part's first ``relationship`` part; None (with a warning when the
    part exists but cannot be read) otherwise."""
    for rel in package.related(main, relationship):
        if rel.external or not package.has(rel.target):
            continue
        try:
            return package.xml(rel.target)
        except DocumentError as error:
            warnings.append(f"{relationship} part {rel.target} not read: {error}")
            return None
    return None


def _read_note_formats(settings: Any | None, context: WordContext) -> None:
    """Footnote and endnote number formats from ``w:settings`` (§17.11.11 ``w:footnotePr``)."""
    if settings is None:
        return
    for kind in ("footnote", "endnote"):
        number_format = val(settings.find(f"{W}{kind}Pr/{W}numFmt"))
        if number_format:
            context.note_formats[kind] = number_format


def _walk_optional(read: Callable[[], list[list[Block]]], description: str, warnings: list[str]) -> list[list[Block]]:
    """Run ``read``; when it fails, a warning replaces what it would have given (the body is kept)."""
    try:
        return read()
    except Exception as error:  # an optional story must never cost the body
        warnings.append(f"{description} not read: {error}")
        return []


def _notes(package: OpcPackage, main: str, kind: str, context: WordContext, warnings: list[str]) -> list[list[Block]]:
    """Footnotes or endnotes, numbered and ordered as referenced in the text; notes never referenced
    come last, numbered on."""

    def read() -> list[list[Block]]:
        root = _optional_xml(package, main, f"{kind}s", warnings)
        if root is None:
            return []
        part = next(rel.target for rel in package.related(main, f"{kind}s") if not rel.external)
        walker = StoryWalker(context, part)
        notes: dict[str, list[Block]] = {}
        for note in root.iter(f"{W}{kind}"):
            if note.get(f"{W}type") not in _SKIPPED_NOTE_TYPES:
                notes[note.get(f"{W}id", "")] = walker.story(note)
        numbers = context.note_numbers[kind]
        ordered = sorted(notes, key=lambda note_id: numbers.get(note_id, len(numbers) + 1))
        return [_labelled(f"[{context.note_mark(kind, note_id)}] ", notes[note_id]) for note_id in ordered]

    return _walk_optional(read, f"{kind}s", warnings)


def _comments(package: OpcPackage, main: str, context: WordContext, warnings: list[str]) -> list[list[Block]]:
    """Comments in file order, each as "[N] Author: text"."""

    def read() -> list[list[Block]]:
        root = _optional_xml(package, main, "comments", warnings)
        if root is None:
            return []
        part = next(rel.target for rel in package.related(main, "comments") if not rel.external)
        walker = StoryWalker(context, part)
        entries = []
        for number, comment in enumerate(root.iter(f"{W}comment"), start=1):
            author = " ".join((comment.get(f"{W}author") or "").split())
            prefix = f"[{number}] {author}: " if author else f"[{number}] "
            entries.append(_labelled(prefix, walker.story(comment)))
        return entries

    return _walk_optional(read, "comments", warnings)


def _labelled(prefix: str, blocks: list[Block]) -> list[Block]:
    """Note or comment blocks with ``prefix`` (e.g. "[1] ") before the first paragraph's text."""
    for block in blocks:
        if isinstance(block, Paragraph) and block.line().strip():
            block.text = prefix + block.text.lstrip()
            return blocks
    return [Paragraph(prefix.strip()), *blocks]


def _headers_and_footers(
    package: OpcPackage, main: str, root: Any, context: WordContext, warnings: list[str]
) -> list[list[Block]]:
    """Each distinct header and footer once: first those the sections refer to, in document order,
    then any other header or footer part of the package."""
    referenced: list[str] = []
    for section in root.iter(f"{W}sectPr"):
        for reference in section:
            if reference.tag in (f"{W}headerReference", f"{W}footerReference"):
                relationship = package.target(main, reference.get(f"{{{REL_NS}}}id", ""))
                if relationship is not None and not relationship.external:
                    referenced.append(relationship.target)
    for kind in ("header", "footer"):
        referenced.extend(rel.target for rel in package.related(main, kind) if not rel.external)
    entries: list[list[Block]] = []
    seen_text: set[str] = set()
    for part in dict.fromkeys(referenced):
        if package.has(part):
            for blocks in _walk_optional(_story_reader(context, part), part, warnings):
                text = "\n".join(text_lines(blocks))
                if text.strip() and text not in seen_text:
                    seen_text.add(text)
                    entries.append(blocks)
    return entries


def _story_reader(context: WordContext, part: str) -> Callable[[], list[list[Block]]]:
    """A reader of the whole story part ``part`` (a header or footer) as one entry."""
    return lambda: [StoryWalker(context, part).story(context.package.xml(part))]


def _metadata(package: OpcPackage, warnings: list[str]) -> dict[str, JsonValue]:
    try:
        return package.core_properties()
    except DocumentError as error:
        warnings.append(f"core properties not read: {error}")
        return {}


def _first_title(blocks: list[Block]) -> str | None:
    """The first Title or level-1 heading paragraph of the body, as the document's title."""
    for block in blocks:
        if isinstance(block, Paragraph) and (block.is_title or block.outline_level == 0):
            text = " ".join(block.text.split())
            if text:
                return text
    return None


def _unread_warnings(context: WordContext) -> list[str]:
    return [
        f"{count} {plural if count > 1 else singular} not read"
        for (singular, plural), count in sorted(context.unread.items())
    ]


def _text(blocks: list[Block], sections: list[_Section]) -> str:
    chunks = ["\n".join(text_lines(blocks))]
    for section in sections:
        if section.entries:
            chunks.append("\n".join([section.title, *("\n".join(text_lines(entry)) for entry in section.entries)]))
    return "\n\n".join(chunk for chunk in chunks if chunk)


def _markdown(blocks: list[Block], sections: list[_Section]) -> str:
    chunks = [markdown(blocks)]
    for section in sections:
        if section.entries:
            chunks.append(f"## {escape_markdown(section.title)}")
            chunks.extend(markdown(entry) for entry in section.entries)
    return "\n\n".join(chunk for chunk in chunks if chunk)
