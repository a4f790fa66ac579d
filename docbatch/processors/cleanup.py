"""The last step of every extraction: line endings normalised, control characters removed and counted.

Text that still holds NUL or other C0/C1 control characters after decoding comes from a broken font
(a PDF without a Unicode map), a wrong encoding guess or binary debris; search indexes and JSON
consumers choke on it, and it is invisible in most viewers. It is removed, and the output says how
much was removed, so a success is never silently altered.
"""

from __future__ import annotations

import re

from pydantic import JsonValue

from docbatch.models import Extraction

# C0 controls (ISO 6429) except tab, line feed, vertical tab, form feed and carriage return; the C1
# block; and the noncharacters U+FFFE/U+FFFF (never text; PDFium uses U+FFFE for soft hyphens). DEL
# (U+007F) is in neither block and stays: a JSON string or a CSV cell may really hold it.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x80-\x9f\ufffe\uffff]")
# Line breaks of every convention become "\n"; a form feed or vertical tab inside a page is a line
# break too (the text output uses form feeds between pages, so one inside would invent a page).
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")


def clean_text(text: str) -> tuple[str, int]:
    """``text`` with line breaks normalised to "\\n" and control characters removed, and how many
    control characters were removed."""
    if "\r" in text or "\x0b" in text or "\x0c" in text or "\x85" in text or "\u2028" in text or "\u2029" in text:
        text = _LINE_BREAKS.sub("\n", text)
    if _CONTROLS.search(text) is None:
        return text, 0
    return _CONTROLS.subn("", text)


def clean_extraction(extraction: Extraction) -> None:
    """Clean an extraction in place: text, pages, Markdown, title and metadata strings. When control
    characters were removed from the text, a warning gives their number."""
    extraction.text, in_text = clean_text(extraction.text)
    in_pages = 0
    for page in extraction.pages:
        page.text, removed = clean_text(page.text)
        in_pages += removed
        if page.markdown is not None:
            page.markdown = clean_text(page.markdown)[0]
        if page.label is not None:
            page.label = clean_text(page.label)[0]
    if extraction.markdown is not None:
        extraction.markdown = clean_text(extraction.markdown)[0]
    if extraction.title is not None:
        extraction.title = clean_text(extraction.title)[0]
    extraction.metadata = {key: _clean_value(value) for key, value in extraction.metadata.items()}
    removed = max(in_text, in_pages)  # the text is usually the pages joined: count once
    if removed:
        extraction.warnings.append(
            f"removed {removed} control character{'s' if removed != 1 else ''} (NUL, C0/C1) from the text: "
            "the document's encoding or fonts are broken in places"
        )


def _clean_value(value: JsonValue) -> JsonValue:
    if isinstance(value, str):
        return clean_text(value)[0]
    if isinstance(value, list):
        return [_clean_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _clean_value(item) for key, item in value.items()}
    return value
