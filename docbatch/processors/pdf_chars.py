"""Access to PDFium's per-character data for one text page, kept to as few ctypes calls as possible.

``FPDFText_GetText`` returns a page's character list as one string in one call, but leaves out
characters whose Unicode value PDFium uses internally (U+0002, U+0003, U+0093, U+0094,
U+0096-U+0098, U+FFFE, unless PDFium marked them as a hyphen). A font without a usable Unicode
map can give exactly those values for real glyphs, often the space (so "Overview of the" came
out "Overviewofthe"). :func:`excluded_character_edits` finds where they were, by bisection over
PDFium's char-index to text-index map, and says what to put back.
"""

from __future__ import annotations

import ctypes
from typing import Any

# A character's box in PDF points, y growing upwards: (left, bottom, right, top).
Box = tuple[float, float, float, float]
# An edit replaces text[start:end] of PDFium's page text (start == end inserts).
Edit = tuple[int, int, str]

# C1 code points PDFium leaves out, which a font read as Windows-1252 meant as punctuation.
_WINDOWS_1252_PUNCTUATION = {0x93: "\u201c", 0x94: "\u201d", 0x96: "\u2013", 0x97: "\u2014", 0x98: "\u02dc"}
# Below this width or height (points) a glyph's tight box holds no ink: the glyph is a space.
_INKLESS = 0.1
# Ranges shorter than this are scanned char by char rather than bisected further.
_SCAN_BELOW = 16


class CharBoxes:
    """Loose character boxes (advance width x font ascent-descent) of one text page, addressed by
    index into the page's text string as ``FPDFText_GetText`` returned it."""

    def __init__(self, pdfium_c: Any, textpage: Any, text_matches_chars: bool) -> None:
        self._pdfium_c = pdfium_c
        self._textpage = textpage
        self._text_matches_chars = text_matches_chars
        self._rect = pdfium_c.FS_RECTF()
        self._rect_ref = ctypes.byref(self._rect)
        # The last box read: with one-character lines (sub- and superscripts) a character is both
        # after one line break and before the next.
        self._last: tuple[int, Box | None] = (-1, None)

    def at(self, text_index: int) -> Box | None:
        if self._last[0] == text_index:
            return self._last[1]
        box = self._read(text_index)
        self._last = (text_index, box)
        return box

    def _read(self, text_index: int) -> Box | None:
        char_index = text_index
        if not self._text_matches_chars:
            char_index = self._pdfium_c.FPDFText_GetCharIndexFromTextIndex(self._textpage, text_index)
            if char_index < 0:
                return None
        if not self._pdfium_c.FPDFText_GetLooseCharBox(self._textpage, char_index, self._rect_ref):
            return None
        rect = self._rect
        return (rect.left, rect.bottom, rect.right, rect.top)


def excluded_character_edits(pdfium_c: Any, textpage: Any, char_count: int, text_length: int) -> list[Edit]:
    """Insertions that put back the characters ``FPDFText_GetText`` left out of a page's text.

    ``textpage`` is the raw FPDF_TEXTPAGE. Returns (text_index, text_index, replacement) edits in
    text order: a space for a glyph without ink (its tight box is empty), Windows-1252 punctuation
    for U+0093/94/96/97/98, the code point itself otherwise (a control character the caller
    reports). Characters without any Unicode value stay out, as in PDFium's own text.
    """
    missing = char_count - text_length
    if missing <= 0:
        return []
    excluded: list[tuple[int, int]] = []  # (char index, text index it goes before)

    def text_index(char_index: int) -> int:
        index: int = pdfium_c.FPDFText_GetTextIndexFromCharIndex(textpage, char_index)
        return index

    def scan(start: int, end: int, excluded_before: int) -> None:
        for char_index in range(start, end):
            if text_index(char_index) < 0:
                excluded.append((char_index, char_index - excluded_before))
                excluded_before += 1

    def bisect(start: int, end: int, before_start: int, before_end: int) -> None:
        # Exactly before_end - before_start excluded characters lie in [start, end).
        if before_end == before_start:
            return
        if end - start < _SCAN_BELOW or before_end - before_start == end - start:
            scan(start, end, before_start)
            return
        middle = (start + end) // 2
        index = text_index(middle)
        while index < 0 and middle + 1 < end:  # an excluded character has no text index: step past it
            middle += 1
            index = text_index(middle)
        if index < 0:
            scan(start, end, before_start)
            return
        bisect(start, middle, before_start, middle - index)
        bisect(middle, end, middle - index, before_end)

    bisect(0, char_count, 0, missing)
    box = [ctypes.c_double() for _ in range(4)]  # left, right, bottom, top: reused for every character
    return [(at, at, _replacement(pdfium_c, textpage, char_index, box)) for char_index, at in excluded]


def _replacement(pdfium_c: Any, textpage: Any, char_index: int, box: list[ctypes.c_double]) -> str:
    code: int = pdfium_c.FPDFText_GetUnicode(textpage, char_index)
    if code == 0:
        return ""
    if code in _WINDOWS_1252_PUNCTUATION:
        return _WINDOWS_1252_PUNCTUATION[code]
    left, right, bottom, top = box
    has_box = pdfium_c.FPDFText_GetCharBox(textpage, char_index, left, right, bottom, top)
    if has_box and (right.value - left.value < _INKLESS or top.value - bottom.value < _INKLESS):
        return " "
    return chr(code) if code != 0xFFFE else "\ufffd"
