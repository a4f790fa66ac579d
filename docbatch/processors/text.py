"""Plain text and Markdown."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import JsonValue

from docbatch.models import Extraction
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.textdecode import decode_text

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
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
