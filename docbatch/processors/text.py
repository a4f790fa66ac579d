"""Plain text, Markdown and RTF."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import JsonValue

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.rtf_notes import sections_text, side_texts
from docbatch.processors.textdecode import decode_text

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_BARE_BIN = re.compile(r"\\bin(?![0-9A-Za-z-])")
_FRONT_TITLE = re.compile(r"^title:\s*[\"']?(.+?)[\"']?\s*$", re.MULTILINE)


def markdown_title(text: str) -> str | None:
    """Title from YAML front matter, a pandoc title block, or the first ATX heading."""
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end > 0:
            match = _FRONT_TITLE.search(text[4:end])
            if match:
                return match.group(1)
    if text.startswith("% "):
        return text[2:].split("\n", 1)[0].strip() or None
    match = _HEADING.search(text)
    return match.group(1) if match else None


class PlainTextProcessor(Processor):
    name = "text"
    kinds: ClassVar[tuple[str, ...]] = ("text", "markdown")
    library = "charset-normalizer"
    description = "text and Markdown with encoding detection"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        # BOM-less UTF-16/32 is recognised by decode_text; NULs or control characters that remain are
        # in the file itself, and the worker's generic clean-up removes and counts them.
        text, encoding = decode_text(source.read_bytes())
        metadata: dict[str, JsonValue] = {"encoding": encoding, "lines": text.count("\n") + 1}
        title = markdown_title(text) if kind == "markdown" else None
        if kind == "markdown":
            metadata["headings"] = len(_HEADING.findall(text))
        # A Markdown file is its own Markdown rendering.
        markdown = text if kind == "markdown" else None
        return Extraction(kind=kind, title=title, metadata=metadata, text=text, markdown=markdown)


class RtfProcessor(Processor):
    name = "rtf"
    kinds: ClassVar[tuple[str, ...]] = ("rtf",)
    library = "striprtf"
    description = "RTF text with control words removed; footnotes, comments, headers and footers in sections"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        from striprtf.striprtf import rtf_to_text

        # RTF is 7-bit ASCII with escapes; latin-1 maps every byte, so decoding cannot fail here.
        raw = source.read_bytes().decode("latin-1")
        if not raw.lstrip().startswith("{\\rtf"):
            raise CorruptDocument("not an RTF file: it does not start with {\\rtf")
        codepage = re.search(r"\\ansicpg(\d+)", raw[:2048])
        encoding = f"cp{codepage.group(1)}" if codepage else "cp1252"
        # "\bin" must carry the byte count of the binary data that follows (RTF 1.9.1, "\binN"); some
        # writers put hex picture data after a bare "\bin", on which striprtf fails. Without the word
        # the data is read as the hex it is, inside a picture group whose content is dropped anyway.
        raw = _BARE_BIN.sub("", raw)

        def convert(rtf: str) -> str:
            try:
                return str(rtf_to_text(rtf, encoding=encoding, errors="replace"))
            except LookupError:
                return str(rtf_to_text(rtf, encoding="cp1252", errors="replace"))

        try:
            text = convert(raw)
            sections = side_texts(raw, convert)
        except (ValueError, IndexError) as error:
            raise CorruptDocument(f"the RTF control words cannot be parsed ({error})") from error
        text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip("\n")
        # Notes, comments, headers and footers after the body, in marked sections (as for Word).
        text = "\n\n".join(block for block in (text, sections_text(sections)) if block)
        warnings = [] if raw.count("{") == raw.count("}") else ["unbalanced braces: the file may be cut short"]
        pictures = raw.count("{\\pict")
        if pictures and not text.strip():
            warnings.append(f"no text, only {pictures} picture{'s' if pictures > 1 else ''} (not read: no OCR)")
        metadata: dict[str, JsonValue] = {"codepage": encoding}
        for title, texts in sections.items():
            metadata[title.lower().replace(" ", "_")] = len(texts)
        return Extraction(kind="rtf", metadata=metadata, text=text, warnings=warnings)
