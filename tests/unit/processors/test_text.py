"""Plain text, Markdown and RTF: BOM-less UTF-16, Markdown passed through, RTF pictures."""

from pathlib import Path

from docbatch.models import Extraction
from tests.helpers.extraction import extract_bytes


def _extract(tmp_path: Path, name: str, data: bytes) -> Extraction:
    return extract_bytes(tmp_path, name, data)


def test_bomless_utf16_text_has_no_nul_characters(tmp_path: Path) -> None:
    extraction = _extract(
        tmp_path, "note.txt", "This is a test document\r\nto use for unit tests.\r\n".encode("utf-16-be")
    )
    assert extraction.text == "This is a test document\nto use for unit tests.\n"
    assert extraction.metadata["encoding"] == "utf-16-be"
    assert extraction.warnings == []


def test_markdown_file_is_its_own_markdown(tmp_path: Path) -> None:
    source = "# Handbook\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n"
    extraction = _extract(tmp_path, "handbook.md", source.encode())
    assert extraction.markdown == source
    assert extraction.title == "Handbook"


def test_rtf_picture_after_a_bare_bin_word_does_not_fail_the_document(tmp_path: Path) -> None:
    rtf = (
        rb"{\rtf1\ansi\deff0{\fonttbl{\f0 Helvetica;}}"
        rb"{\pard Before the picture.\par}"
        rb"{\pard {\pict\jpegblip\picw2\pich2 \bin ffd8ffe000104a464946ffd9}\par}"
        rb"{\pard After the picture.\par}}"
    )
    extraction = _extract(tmp_path, "image.rtf", rtf)
    assert extraction.text == "Before the picture.\n\nAfter the picture."
    assert "ffd8" not in extraction.text


def test_rtf_with_only_a_picture_warns_that_nothing_was_read(tmp_path: Path) -> None:
    rtf = rb"{\rtf1\ansi{\pard {\pict\pngblip 89504e470d0a1a0a}\par}}"
    extraction = _extract(tmp_path, "only-image.rtf", rtf)
    assert extraction.text == ""
    assert extraction.warnings == ["no text, only 1 picture (not read: no OCR)"]


def test_rtf_footnotes_comments_headers_and_footers_are_kept_in_marked_sections(tmp_path: Path) -> None:
    rtf = (
        rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0 Times;}}"
        rb"{\header \pard Harbor Lane Library\par}{\footer \pard Page \chpgn\par}"
        rb"\pard Mead's study{\super\chftn{\footnote \pard {\super\chftn} See Sahlins for a bibliography.}} "
        rb"is well annotated{\*\atnid AL}{\*\atnauthor Ada}\chatn{\*\annotation \pard Check the year.}.\par"
        rb"\pard Second paragraph{\footnote \pard Caf\'e9 notes \{braced\}.}.\par}"
    )
    extraction = _extract(tmp_path, "notes.rtf", rtf)
    # The body reads as before (striprtf leaves these groups out); the groups follow in sections.
    assert extraction.text == (
        "Mead's study is well annotated.\nSecond paragraph.\n\n"
        "Footnotes\n[1] See Sahlins for a bibliography.\n[2] Café notes {braced}.\n\n"
        "Comments\n[1] Check the year.\n\n"
        "Headers and footers\nHarbor Lane Library\nPage"
    )
    assert extraction.metadata["footnotes"] == 2 and extraction.metadata["comments"] == 1


def test_rtf_font_without_a_charset_does_not_take_the_next_fonts(tmp_path: Path) -> None:
    # striprtf pairs each font with the next \fcharset it meets: Arial (none) took the Cyrillic 204.
    rtf = (
        rb"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0\fswiss Arial;}{\f1\fnil\fcharset204 Arial Cyr;}}"
        rb"\f1 \'cf\'f0\'e8\'e2\'e5\'f2\f0  plain \'e9t\'e9\par}"
    )
    assert _extract(tmp_path, "mixed.rtf", rtf).text == "Привет plain été"
