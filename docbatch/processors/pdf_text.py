"""Text of one PDF page from PDFium's character list, with separators checked against character boxes.

PDFium (through pypdfium2) keeps, for every page, a list of characters in reading order; while
building it, PDFium inserts generated spaces and line breaks where it sees gaps between text
objects, reorders right-to-left runs (Arabic, Hebrew) into logical order and marks a hyphen that
splits a word across two lines with U+FFFE. ``FPDFText_GetText`` returns that list as it is
(less a few code points PDFium uses internally, which :mod:`docbatch.processors.pdf_chars` puts back).
(``FPDFText_GetBoundedText`` instead drops the generated line breaks between characters on the
same baseline, which glued neighbouring table cells: ``400.01`` and ``3`` became ``400.013``.)

On top of PDFium's list this module decides, from the characters' loose boxes (advance width x
ascent-descent, in PDF points), what a generated line break really is: two characters on the same
line are cells or columns, joined by a tab when the gap is wide or a space when narrow; a line
whose first character lies outside the visible page is left out (and counted). Boxes are read only
at line starts, around some line breaks and, on pages that turned out to hold table columns, around
spaces between digits, never for every character: one ctypes call costs about as much as PDFium's
own work for a whole word, and the budget for all of this is a few percent of the extraction time.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from docbatch.processors.pdf_chars import Box, CharBoxes, Edit, excluded_character_edits

LINE_BREAK = "\r\n"
HYPHEN_MARK = "\ufffe"  # PDFium's mark for a hyphen it judged to split a word across a line break

# A gap of at least this many font heights (loose box height, about 1.1 em) between two characters
# of one line is a column or table-cell boundary; a narrower one is an ordinary space. Word spaces
# are 0.25-0.35 em, so a tab needs about four spaces' width.
TAB_GAP_HEIGHTS = 1.2
# Every this many lines one is tested for lying outside the page (all of them if one does).
OFF_PAGE_SAMPLE = 6
# Below this many font heights a gap is no space (word spaces are 0.25-0.35 em, about 0.25 heights).
TIGHT_GAP_HEIGHTS = 0.12
# Line breaks next to a segment shorter than this (in characters) are checked for being cell boundaries.
CELL_LENGTH = 16
_NO_LINE_START = frozenset(",.;:)]}!?\u2019\u201d")
# Pages on either side of a page searched for how a hyphenated word is written elsewhere.
EVIDENCE_PAGES = 3
# Two boxes are on the same line when they overlap vertically by at least this share of the smaller.
SAME_LINE_OVERLAP = 0.5
# A following character may start this share of a height left of the previous one's end (kerning,
# italics) and still count as following it on the line.
BACKWARD_TOLERANCE = 0.1

_DIGIT_SPACE = re.compile(r"\d (?=\d)")
_UNREADABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\uffff\ue000-\uf8ff]")
# Whitespace proper; str.isspace() would also count the separator controls U+001C-U+001F.
_WHITESPACE = re.compile("[\t\n\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


def same_line_separator(before: Box, after: Box, *, punctuation_follows: bool = False) -> str | None:
    """What goes between two characters PDFium separated by a line break.

    Returns None when ``after`` really starts a new line (it is not beside ``before`` on the same
    baseline band, or it lies to its left, as a new line or a right-to-left run would), ``"\\t"``
    when it follows on the same line after a gap of at least ``TAB_GAP_HEIGHTS`` font heights (a
    table column), and ``" "`` for a narrower gap. The exception is punctuation closing up to the
    character before it (a comma after a superscript, "Eich∗,"): ``""`` when the gap is narrower
    than ``TIGHT_GAP_HEIGHTS``. Other characters never join: a footnote mark after a number must
    not become one of its digits.
    """
    before_left, before_bottom, before_right, before_top = before
    after_left, after_bottom, _, after_top = after
    height = min(before_top - before_bottom, after_top - after_bottom)
    if height <= 0:
        return None
    overlap = min(before_top, after_top) - max(before_bottom, after_bottom)
    if overlap < SAME_LINE_OVERLAP * height:
        return None
    gap = after_left - before_right
    if gap < -BACKWARD_TOLERANCE * height:
        return None
    if punctuation_follows and gap < TIGHT_GAP_HEIGHTS * height:
        return ""
    # The taller box sets the scale: an accent or superscript beside a full-size letter is no column.
    return "\t" if gap >= TAB_GAP_HEIGHTS * max(before_top - before_bottom, after_top - after_bottom) else " "


def wide_gap(before: Box, after: Box) -> bool:
    """True when two characters of one line are a column apart (the test used for spaces between digits)."""
    return same_line_separator(before, after) == "\t"


def page_text(textpage: Any, page_box: Box | None = None) -> PageText:
    """The text of one page: PDFium's character list with same-line breaks turned into tabs or spaces.

    ``textpage`` is a ``pypdfium2.PdfTextPage``; ``page_box`` the page's visible area (PDF points,
    left, bottom, right, top). Lines whose first and last characters lie wholly outside it (the other
    half of a two-page spread, text parked off the page) are left out and counted. Line breaks come out
    as ``\\n``; PDFium's marks of words hyphenated across a line break (U+FFFE) are left for
    :func:`resolve_hyphens`, which looks for evidence on the neighbouring pages too.
    """
    import pypdfium2.raw as pdfium_c

    # errors="replace": a broken UTF-16 surrogate becomes U+FFFD (counted as unreadable), never vanishes.
    text: str = textpage.get_text_range(errors="replace")
    char_count = pdfium_c.FPDFText_CountChars(textpage.raw)
    edits: list[Edit] = []
    if len(text) < char_count:
        edits = excluded_character_edits(pdfium_c, textpage.raw, char_count, len(text))
    boxes = CharBoxes(pdfium_c, textpage.raw, len(text) == char_count)
    line_edits, off_page = _line_edits(text, boxes, page_box)
    if any(separator == "\t" for _, _, separator in line_edits):
        line_edits.extend(_digit_space_edits(text, boxes))
    edits.extend(line_edits)
    if edits:
        text = _apply_edits(text, sorted(edits))
    return PageText(text.replace(LINE_BREAK, "\n").replace("\r", "\n"), off_page)


@dataclass(frozen=True)
class PageText:
    """A page's text and how many of its lines lay outside the page's visible area (left out)."""

    text: str
    off_page_lines: int = 0
    form_fields: int = 0  # filled-in form fields whose values were added after the page's text


def _line_edits(text: str, boxes: CharBoxes, page_box: Box | None) -> tuple[list[Edit], int]:
    """Edits for PDFium's line breaks and for lines outside the page; the count of those lines.

    A line break between two characters of one line gets a separator. Boxes cost a ctypes call
    each, so only breaks that look like they might not end a line are examined
    (:func:`_may_be_same_line`); an unexamined break stays a line break, which still separates the
    text on both sides. A line is outside the page when the boxes of its first and last characters
    are (a line running from outside onto the page is kept whole: nothing visible is lost); every
    line is tested only on pages where a sample of lines (:func:`_has_text_off_page`) found one.
    """
    lines = text.split(LINE_BREAK)
    # starts[k]: index of line k's first character; its line break, if any, follows at starts[k] + len.
    starts = list(itertools.accumulate([0, *(len(line) + 2 for line in lines[:-1])]))
    edits: list[Edit] = []
    off_page: set[int] = set()
    if page_box is not None and _has_text_off_page(lines, starts, boxes, page_box):
        for number, line in enumerate(lines):
            start = starts[number]
            if line and _outside(boxes.at(start), page_box) and _outside(boxes.at(start + len(line) - 1), page_box):
                edits.append((start, start + len(line) + 2, ""))
                off_page.add(number)
    for number in [k for k in range(len(lines) - 1) if _may_be_same_line(lines[k], lines[k + 1])]:
        if number in off_page or number + 1 in off_page:
            continue
        end = starts[number] + len(lines[number])
        before = boxes.at(end - 1)
        after = boxes.at(end + 2) if before is not None else None
        if before is not None and after is not None:
            tight = lines[number + 1][0] in _NO_LINE_START
            separator = same_line_separator(before, after, punctuation_follows=tight)
            if separator is not None:
                edits.append((end, end + 2, separator))
    return edits, len(off_page)


def _has_text_off_page(lines: list[str], starts: list[int], boxes: CharBoxes, page_box: Box) -> bool:
    """Whether any of every ``OFF_PAGE_SAMPLE``-th line (and the last) starts outside the page.

    Text off the page comes in blocks (the other half of a spread, a parked text frame), so a
    sample finds it; a stray single line may be missed and is then kept, as PDFium gives it.
    """
    sample = [*range(0, len(lines), OFF_PAGE_SAMPLE), len(lines) - 1]
    return any(lines[number] and _outside(boxes.at(starts[number]), page_box) for number in sample)


def _outside(box: Box | None, page_box: Box) -> bool:
    if box is None:
        return False
    left, bottom, right, top = box
    page_left, page_bottom, page_right, page_top = page_box
    return right < page_left or left > page_right or top < page_bottom or bottom > page_top


def _may_be_same_line(before: str, after: str) -> bool:
    """Whether a line break between two pieces of text is worth checking against the boxes.

    True for cell-sized pieces, for a piece that starts with punctuation no line starts with (text
    resumed after a subscript: "X_i, i = 1"), and for a one- or two-character token on both sides
    (an exponent: "R" "2 oder").
    """
    if not before or not after:
        return False
    if len(before) < CELL_LENGTH or len(after) < CELL_LENGTH or after[0] in _NO_LINE_START:
        return True
    return len(before) - before.rfind(" ") <= 3 and after.find(" ") in (1, 2)


def _digit_space_edits(text: str, boxes: CharBoxes) -> list[Edit]:
    """On a page with table columns, a space between two numbers that spans a column gap becomes a tab.

    PDFium writes a space rather than a line break when two cells are somewhat closer; without this,
    rows of one table would be separated differently ("1200.01 11" beside "400.01\\t3").
    """
    edits: list[Edit] = []
    for match in _DIGIT_SPACE.finditer(text):
        space = match.start() + 1
        before, after = boxes.at(space - 1), boxes.at(space + 1)
        if before is not None and after is not None and wide_gap(before, after):
            edits.append((space, space + 1, "\t"))
    return edits


def _apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply sorted edits; an edit starting inside the previous one's span is applied at its end."""
    pieces: list[str] = []
    position = 0
    for start, end, replacement in edits:
        start = max(start, position)
        end = max(end, start)
        pieces.append(text[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def resolve_hyphens(page_texts: list[str]) -> list[str]:
    """Join the words PDFium marked as hyphenated across a line break (U+FFFE), page by page.

    "exam\\ufffeple" becomes "example". The hyphen is kept ("Schwarz-Weiß") when the text itself
    says it belongs to the word (:func:`hyphen_join`): a hyphenated form is looked up among the
    compounds written anywhere in the document (so "floating-point" on page 4 keeps the hyphen of a
    "floating-" / "point" break on page 12; found by scanning for hyphens, which costs little), a
    joined form in the page and the ``EVIDENCE_PAGES`` pages on either side of it (searching the
    whole of a long document for every word cost more than the rest of its extraction). A mark with
    no word after it (end of a page or column) becomes a plain hyphen. Returns the page texts in the
    same order.
    """
    if not any(HYPHEN_MARK in text for text in page_texts):
        return list(page_texts)
    compounds = written_compounds(page_texts)
    resolved = list(page_texts)
    for number, text in enumerate(page_texts):
        if HYPHEN_MARK in text:
            nearby = page_texts[max(0, number - EVIDENCE_PAGES) : number + EVIDENCE_PAGES + 1]
            resolved[number] = _resolve_page_hyphens(text, _Evidence(text, nearby, compounds))
    return resolved


def written_compounds(page_texts: list[str]) -> set[str]:
    """Every "word-word" pair written with a hyphen in the texts ("state-of-the-art" gives "state-of",
    "of-the" and "the-art"), found from the hyphens themselves rather than by tokenising every word."""
    compounds: set[str] = set()
    for text in page_texts:
        hyphen = text.find("-")
        while hyphen >= 0:
            start = hyphen
            while start > 0 and text[start - 1].isalnum():
                start -= 1
            end = hyphen + 1
            while end < len(text) and text[end].isalnum():
                end += 1
            if start < hyphen and end > hyphen + 1:
                compounds.add(text[start:end])
            hyphen = text.find("-", hyphen + 1)
    return compounds


class _Evidence:
    """Searches for a written form of a word: hyphenated forms in the whole document, others in a page
    and then its neighbours."""

    def __init__(self, page: str, nearby: list[str], compounds: set[str]) -> None:
        self._page = page
        self._nearby = nearby
        self._compounds = compounds
        self._joined: str | None = None

    def contains(self, form: str) -> bool:
        if "-" in form and form in self._compounds:
            return True
        if form in self._page:
            return True
        if self._joined is None:
            self._joined = "\n".join(self._nearby)
        return form in self._joined


def _resolve_page_hyphens(text: str, document: _Evidence) -> str:
    pieces: list[str] = []
    start = 0
    mark = text.find(HYPHEN_MARK)
    while mark >= 0:
        head_match = _WORD_END.search(text, max(0, mark - 64), mark)
        head = head_match.group() if head_match else ""
        tail_match = _WORD_START.match(text, mark + 1)
        tail = tail_match.group() if tail_match else ""
        pieces.append(text[start:mark])
        pieces.append(hyphen_join(head, tail, document.contains))
        start = mark + 1
        mark = text.find(HYPHEN_MARK, start)
    pieces.append(text[start:])
    return "".join(pieces)


_WORD_END = re.compile(r"\w+$")
_WORD_START = re.compile(r"\w*")


def hyphen_join(head: str, tail: str, appears: Callable[[str], bool]) -> str:
    """What joins the two parts of a word split at a line-end hyphen: "" (a soft hyphen) or "-".

    ``appears`` searches the nearby text: when exactly one of the joined and the hyphenated form is
    written there, that form wins ("TraceMonkey", "dual-encoder"). Otherwise the hyphen is kept
    when the part after it does not start with a lower-case letter ("COVID-19", "Schwarz-Weiß")
    or the part before ends in a capital or digit ("REC-xml"), and dropped in every other case.
    """
    if not head or not tail:
        return "-"
    joined_seen, hyphenated_seen = appears(head + tail), appears(f"{head}-{tail}")
    if joined_seen != hyphenated_seen:
        return "" if joined_seen else "-"
    if not tail[0].islower() or head[-1].isupper() or head[-1].isdigit():
        return "-"
    return ""


def is_mostly_unreadable(text: str) -> bool:
    """True when more than half of the page's visible characters are U+FFFD, control or private-use characters.

    That is what a font without a ToUnicode map (PDF 32000-1 §9.10.2) gives: glyph codes passed
    through as characters. Whitespace does not count either way.
    """
    if "\ufffd" not in text and text.replace("\n", " ").replace("\t", " ").isprintable():
        return False  # the common case, decided by C-speed scans
    unreadable = len(_UNREADABLE.findall(text))
    if not unreadable:
        return False
    visible = len(_WHITESPACE.sub("", text))
    return unreadable * 2 > visible


def page_ranges(numbers: list[int]) -> str:
    """ "pages 2, 5-7" or "page 3" for a sorted list of page numbers."""
    spans: list[str] = []
    index = 0
    while index < len(numbers):
        end = index
        while end + 1 < len(numbers) and numbers[end + 1] == numbers[end] + 1:
            end += 1
        first, last = numbers[index], numbers[end]
        spans.append(str(first) if first == last else f"{first}-{last}")
        index = end + 1
    return ("page " if len(numbers) == 1 else "pages ") + ", ".join(spans)
