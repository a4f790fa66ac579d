"""PDF text: cells and words keep their separation, hyphenated words come out whole, right-to-left text
in logical order, unreadable pages are named in a warning, metadata dates are ISO 8601 (issue 11, item 8).

Fixtures are built here: with fpdf2 where it can express the case, otherwise as raw PDF bytes (a few
objects and an xref table) so that the content stream, text matrices and ToUnicode map are exactly
what the case needs.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from fpdf import FPDF

from docbatch.models import Extraction
from docbatch.processors.base import SourceFile
from docbatch.processors.pdf import PdfProcessor, document_metadata, pdf_date_to_iso
from docbatch.processors.pdf_text import (
    hyphen_join,
    is_mostly_unreadable,
    page_ranges,
    resolve_hyphens,
    same_line_separator,
)


def _extract(path: Path) -> Extraction:
    return PdfProcessor().extract(SourceFile(path=path, size=path.stat().st_size, head=path.read_bytes()[:64]), "pdf")


def _raw_pdf(contents: list[bytes], to_unicode: dict[int, str] | None = None, font_extra: bytes = b"") -> bytes:
    """A PDF with one page per content stream, all using Helvetica as /F1, optionally with a ToUnicode map
    (one-byte codes to text)."""
    page_count = len(contents)
    font_id = 3 + 2 * page_count
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = b" ".join(b"%d 0 R" % (3 + 2 * index) for index in range(page_count))
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, page_count))
    for index, content in enumerate(contents):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 400] /Resources << /Font << /F1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (font_id, 4 + 2 * index)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica" + font_extra
    if to_unicode:
        font += b" /ToUnicode %d 0 R" % (font_id + 1)
    objects.append(font + b" >>")
    if to_unicode:
        pairs = b"\n".join(
            b"<%02X> <%s>" % (code, text.encode("utf-16-be").hex().upper().encode())
            for code, text in to_unicode.items()
        )
        cmap = (
            b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Test def\n"
            b"1 begincodespacerange <00> <FF> endcodespacerange\n%d beginbfchar\n%s\nendbfchar\n"
            b"endcmap CMapName currentdict /CMap defineresource pop end end" % (len(to_unicode), pairs)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap))
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _write(tmp_path: Path, data: bytes, name: str = "doc.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- table cells and words -------------------------------------------------------------------------


def _spreadsheet_export(rows: list[tuple[str, str]]) -> bytes:
    """Two right-aligned number columns drawn like a spreadsheet export: a y-down page (flipped cm),
    every cell its own text object. PDFium puts a line break, not a space, between such cells."""
    parts = [b"1 0 0 -1 0 400 cm"]
    y = 20.0
    for left, right in rows:
        for x_right, cell in ((100.0, left), (233.0, right)):
            x = x_right - 7.2 * len(cell)
            parts.append(b"BT /F1 13 Tf 1 0 0 -1 %.2f %.2f Tm (%s) Tj ET" % (x, y, cell.encode()))
        y += 21.0
    return _raw_pdf([b"\n".join(parts)])


def test_neighbouring_table_cells_are_not_glued_into_one_number(tmp_path: Path) -> None:
    rows = [("200.01", "1"), ("400.01", "3"), ("600.01", "5"), ("1200.01", "11")]
    extraction = _extract(_write(tmp_path, _spreadsheet_export(rows)))
    assert "400.013" not in extraction.text and "600.015" not in extraction.text
    # One row per line, its cells separated by a tab (the columns are far apart).
    assert extraction.pages[0].text.splitlines() == ["200.01\t1", "400.01\t3", "600.01\t5", "1200.01\t11"]


def test_cells_written_close_together_by_fpdf_keep_their_separation(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.c_margin = 1  # cells just wide enough for their text: 2 mm (about half an em) between the numbers
    for row, (price, count) in enumerate([("400.01", "3"), ("12.50", "7")]):
        pdf.set_xy(20, 30 + 7 * row)
        pdf.cell(pdf.get_string_width(price) + 2, 7, price, align="R")
        pdf.cell(pdf.get_string_width(count) + 2, 7, count, align="R")
    path = tmp_path / "cells.pdf"
    pdf.output(str(path))
    text = _extract(path).text
    assert "400.013" not in text and "12.507" not in text
    assert [line.split() for line in text.splitlines()] == [["400.01", "3"], ["12.50", "7"]]


def test_words_of_a_justified_paragraph_are_not_split(tmp_path: Path) -> None:
    paragraph = (
        "Faithful extraction keeps every word whole, whether the line is justified or ragged, "
        "and whatever kerning the typesetter applied between the letters of a word."
    )
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(90, 5, paragraph, align="J")
    path = tmp_path / "paragraph.pdf"
    pdf.output(str(path))
    text = _extract(path).text
    assert text.split() == paragraph.split()
    assert "\t" not in text


def test_word_hyphenated_across_a_line_break_comes_out_whole(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    # Soft hyphens let fpdf2 break the word at the end of the narrow line ("extraordi-" / "narily"),
    # drawing a hyphen there, which PDFium marks as a line-end hyphen.
    pdf.multi_cell(28, 6, "An extra\u00adordi\u00adnarily long word.")
    path = tmp_path / "hyphen.pdf"
    pdf.output(str(path))
    text = _extract(path).text
    assert "extraordinarily" in text
    assert "\x02" not in text and "\ufffe" not in text and "\u00ad" not in text


def test_hyphen_join_keeps_hyphens_that_belong_to_the_word() -> None:
    assert resolve_hyphens(["an exam\ufffeple here"]) == ["an example here"]
    assert hyphen_join("Schwarz", "Weiß", lambda form: False) == "-"  # capital after the hyphen
    assert hyphen_join("COVID", "19", lambda form: False) == "-"
    assert hyphen_join("REC", "xmlbase", lambda form: False) == "-"  # capital before it
    assert hyphen_join("Trace", "Monkey", lambda form: form == "TraceMonkey") == ""  # written joined nearby
    # The hyphenated form written elsewhere in the document (here: on another page) keeps the hyphen.
    pages = ["a simple dual\ufffeencoder framework", "the dual-encoder is trained", "end of a column\ufffe"]
    assert resolve_hyphens(pages) == [
        "a simple dual-encoder framework",
        "the dual-encoder is trained",
        "end of a column-",
    ]
    # ... unless the joined form is written too.
    assert resolve_hyphens(["a co\ufffeoperative; cooperative; co-operative"])[0].startswith("a cooperative;")


def test_text_outside_the_visible_page_is_left_out_with_a_warning(tmp_path: Path) -> None:
    # The other half of a two-page spread: drawn left of the page, where no reader sees it.
    spread = b"BT /F1 12 Tf -400 200 Td (Left half of the spread) Tj ET BT /F1 12 Tf 50 300 Td (Visible text) Tj ET"
    extraction = _extract(_write(tmp_path, _raw_pdf([spread])))
    assert extraction.text == "Visible text"
    assert "page 1: 1 line of text outside the visible page area left out" in extraction.warnings
    # A line that runs from outside onto the page is kept whole: nothing visible is lost.
    running_on = b"BT /F1 12 Tf -400 300 Td (Starts off the page) Tj ET BT /F1 12 Tf 50 300 Td (Visible text) Tj ET"
    extraction = _extract(_write(tmp_path, _raw_pdf([running_on]), "running-on.pdf"))
    assert extraction.text == "Starts off the page Visible text"
    assert extraction.warnings == []


# --- right-to-left text ----------------------------------------------------------------------------

HEBREW = "שלום עולם"  # "hello world", logical order
_HEBREW_CODES = {0x41 + index: letter for index, letter in enumerate("שלוםעו")}


def _hebrew_bytes(text: str) -> bytes:
    codes = {letter: code for code, letter in _HEBREW_CODES.items()}
    return bytes(codes[letter] if letter != " " else 0x20 for letter in text)


@pytest.mark.parametrize("drawn_as", ["visual order, left to right", "logical order, right to left"])
def test_hebrew_comes_out_in_logical_order(tmp_path: Path, drawn_as: str) -> None:
    if drawn_as.startswith("visual"):
        content = b"BT /F1 20 Tf 50 300 Td (%s) Tj ET" % _hebrew_bytes(HEBREW[::-1])
    else:
        shows = [
            b"1 0 0 1 %d 200 Tm (%s) Tj" % (400 - 14 * index, _hebrew_bytes(letter))
            for index, letter in enumerate(HEBREW)
        ]
        content = b"BT /F1 20 Tf\n" + b"\n".join(shows) + b"\nET"
    data = _raw_pdf([content], {**_HEBREW_CODES, 0x20: " "})
    text = _extract(_write(tmp_path, data)).text
    assert " ".join(text.split()) == HEBREW


def test_characters_beyond_the_basic_plane_are_kept(tmp_path: Path) -> None:
    data = _raw_pdf([b"BT /F1 20 Tf 50 300 Td (ABC) Tj ET"], {0x41: "\U0001d400", 0x42: "=", 0x43: "\U0001f600"})
    assert _extract(_write(tmp_path, data)).text == "\U0001d400=\U0001f600"


def test_characters_pdfium_leaves_out_of_its_text_are_put_back(tmp_path: Path) -> None:
    # A Unicode map that gives U+0002 for the space glyph and C1 codes for the quotes, as broken
    # fonts do: FPDFText_GetText drops these code points, which glued the words together.
    data = _raw_pdf([b"BT /F1 13 Tf 50 300 Td (AOverview of theB) Tj ET"], {0x20: "\x02", 0x41: "\x93", 0x42: "\x94"})
    assert _extract(_write(tmp_path, data)).text == "\u201cOverview of the\u201d"


# --- unreadable pages ------------------------------------------------------------------------------


def test_pages_of_a_font_without_unicode_map_are_named_in_a_warning(tmp_path: Path) -> None:
    readable = b"BT /F1 12 Tf 50 300 Td (A page anyone can read.) Tj ET"
    # Glyph names PDFium cannot map and no ToUnicode: it passes the low codes through as control characters.
    garbled = b"BT /F1 12 Tf 50 300 Td (\\001\\004\\005\\001 \\004\\005\\001\\004 \\005\\001) Tj ET"
    differences = b" /Encoding << /Type /Encoding /Differences [1 /g1 /g2 /g3 /g4 /g5] >>"
    data = _raw_pdf([readable, garbled, readable, garbled, garbled], font_extra=differences)
    extraction = _extract(_write(tmp_path, data))
    assert "A page anyone can read." in extraction.pages[0].text
    assert "pages 2, 4-5: text is mostly unreadable characters (font without a Unicode map?)" in extraction.warnings


def test_page_quality_classifier() -> None:
    assert not is_mostly_unreadable("Plain words\nand\ta tab")
    assert not is_mostly_unreadable("Zahlen: 12\u00a0000 \u2013 café \ufffe")  # non-printable but readable
    assert not is_mostly_unreadable("One bad \ufffd character in a sentence of words")
    assert is_mostly_unreadable("\x04\x05\x06 \x07\x08\x0b\x1c\x1d ab")
    assert is_mostly_unreadable("\ufffd\ufffd\ufffd\ufffd x")
    assert is_mostly_unreadable("\ue001\ue002\ue003 \ue004")  # private-use codes


def test_page_ranges() -> None:
    assert page_ranges([3]) == "page 3"
    assert page_ranges([2, 5, 6, 7]) == "pages 2, 5-7"
    assert page_ranges([1, 2, 4, 9, 10]) == "pages 1-2, 4, 9-10"


# --- separators from character boxes ---------------------------------------------------------------


def test_same_line_separator_from_character_boxes() -> None:
    cell = (100.0, 500.0, 107.0, 512.0)  # (left, bottom, right, top), 12 pt high
    assert same_line_separator(cell, (170.0, 500.0, 177.0, 512.0)) == "\t"  # a column away
    assert same_line_separator(cell, (110.0, 500.5, 117.0, 512.5)) == " "  # a space away
    assert same_line_separator(cell, (100.0, 486.0, 107.0, 498.0)) is None  # the next line
    assert same_line_separator(cell, (40.0, 500.0, 47.0, 512.0)) is None  # back to the left
    assert same_line_separator(cell, (110.0, 500.0, 110.0, 500.0)) is None  # a box without height
    touching = (107.5, 500.0, 110.0, 512.0)
    assert same_line_separator(cell, touching) == " "  # a footnote mark never becomes a digit of a number
    assert same_line_separator(cell, touching, punctuation_follows=True) == ""  # "Eich∗," stays closed up


# --- metadata --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "iso"),
    [
        ("D:20201231235959+01'00'", "2020-12-31T23:59:59+01:00"),
        ("D:20201231235959+01'00", "2020-12-31T23:59:59+01:00"),
        ("D:20201231235959-05'30'", "2020-12-31T23:59:59-05:30"),
        ("D:20260314093000Z", "2026-03-14T09:30:00Z"),
        ("D:20260314093000Z00'00'", "2026-03-14T09:30:00Z"),
        ("D:20260314093000-00'00'", "2026-03-14T09:30:00+00:00"),
        ("D:20260314093000", "2026-03-14T09:30:00"),
        ("20260314093000+02", "2026-03-14T09:30:00+02:00"),
        ("D:202603140930", "2026-03-14T09:30"),
        ("D:20260314", "2026-03-14"),
        ("D:2026", "2026"),
    ],
)
def test_pdf_dates_become_iso_8601(written: str, iso: str) -> None:
    assert pdf_date_to_iso(written) == iso


@pytest.mark.parametrize(
    "written", ["D:20261314093000", "D:20250229", "D:20260314243000", "Mon Mar 14 2026", "D:2026031", "D:20260314Z", ""]
)
def test_impossible_or_foreign_dates_are_not_converted(written: str) -> None:
    assert pdf_date_to_iso(written) is None
    assert document_metadata({"ModDate": written}) == {"moddate": written}


def test_metadata_creation_date_is_iso_8601(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "dated")
    pdf.set_title("Dated document")
    plus_one = datetime.timezone(datetime.timedelta(hours=1))
    pdf.set_creation_date(datetime.datetime(2020, 12, 31, 23, 59, 59, tzinfo=plus_one))
    path = tmp_path / "dated.pdf"
    pdf.output(str(path))
    extraction = _extract(path)
    assert extraction.metadata["creationdate"] == "2020-12-31T23:59:59+01:00"
    assert extraction.title == "Dated document"


def _form_pdf() -> bytes:
    """A one-page PDF with an AcroForm: a filled text field, an empty one and a ticked check box."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R 6 0 R 7 0 R] >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R /Annots [5 0 R 6 0 R 7 0 R]"
        b" /Resources << /Font << /F1 8 0 R >> >> >>",
        b"<< /Length 44 >>\nstream\nBT /F1 12 Tf 20 160 Td (Application) Tj ET\nendstream",
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (name) /TU (Applicant name) /V (Alice Example)"
        b" /Rect [20 100 200 120] /P 3 0 R >>",
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (phone) /Rect [20 70 200 90] /P 3 0 R >>",
        b"<< /Type /Annot /Subtype /Widget /FT /Btn /T (consent) /V /Yes /AS /Yes /Rect [20 40 40 60] /P 3 0 R"
        b" /AP << /N << /Yes 9 0 R /Off 9 0 R >> >> >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /XObject /Subtype /Form /BBox [0 0 20 20] /Length 0 >>\nstream\n\nendstream",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_filled_in_form_fields_follow_the_page_text(tmp_path: Path) -> None:
    path = tmp_path / "form.pdf"
    path.write_bytes(_form_pdf())
    extraction = _extract(path)
    # The values are in the form, not in the page content: without the form API they were lost.
    assert extraction.pages[0].text == "Application\n\nForm fields:\nApplicant name: Alice Example\nconsent: Yes"
    assert extraction.metadata["form_fields_filled"] == 2


def test_a_compound_written_with_its_hyphen_anywhere_in_the_document_keeps_it_at_a_line_break() -> None:
    pages = ["We use floating-point numbers."] + ["filler"] * 8 + ["The floating\ufffepoint unit and exam\ufffeple."]
    resolved = resolve_hyphens(pages)
    assert resolved[-1] == "The floating-point unit and example."
