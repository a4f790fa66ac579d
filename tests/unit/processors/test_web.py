"""HTML, XHTML and EPUB: encodings by the WHATWG rules, XHTML parsed as XML, Markdown structure."""

import zipfile
from pathlib import Path

import pytest

from docbatch.models import Extraction
from docbatch.processors.htmlencoding import prescan_meta_charset
from tests.helpers.extraction import extract_file


def _extract(path: Path) -> Extraction:
    return extract_file(path)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_html_labelled_iso_8859_1_reads_0x80_0x9f_as_windows_1252(tmp_path: Path) -> None:
    page = (
        b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
        b"<title>Caf\xe9</title></head><body><p>\x93Fresh\x94 bread \x96 only \x805 today. It\x92s baked at 6\x85</p>"
        b"</body></html>"
    )
    extraction = _extract(_write(tmp_path, "menu.html", page))
    assert "“Fresh” bread – only €5 today. It’s baked at 6…" in extraction.text
    assert "\x93" not in extraction.text and "\x80" not in extraction.text
    assert extraction.title == "Café"
    assert extraction.metadata["encoding"] == "cp1252"


def test_meta_charset_label_outside_python_names_is_used(tmp_path: Path) -> None:
    body = "<p>東京の天気は晴れです。</p>".encode("shift_jis")
    page = b'<html><head><meta charset="x-sjis"></head><body>' + body + b"</body></html>"
    assert "東京の天気は晴れです。" in _extract(_write(tmp_path, "tokyo.html", page)).text


def test_byte_order_mark_beats_the_meta_declaration(tmp_path: Path) -> None:
    page = "\ufeff<meta charset='windows-1251'><p>Grüße aus Köln</p>".encode()
    assert "Grüße aus Köln" in _extract(_write(tmp_path, "bom.html", page)).text


def test_bomless_utf16_page_is_decoded(tmp_path: Path) -> None:
    page = "<html><body><p>Datasheet for steel grade S355</p></body></html>".encode("utf-16-le")
    extraction = _extract(_write(tmp_path, "sheet.html", page))
    assert extraction.text == "Datasheet for steel grade S355"


@pytest.mark.parametrize(
    ("head", "label"),
    [
        (b'<!-- <meta charset="koi8-r"> --><meta charset="latin2">', "latin2"),
        (b'<div title="<meta charset=koi8-r>"><meta charset=l1>', "l1"),
        (b"<meta content='text/html; charset=gbk'>", None),  # no http-equiv: the content is ignored
        (b'<meta http-equiv="content-type" content="text/html;charset=\'euc-kr\'">', "euc-kr"),
        (b'<meta charset="utf-16">', "utf-8"),  # ASCII bytes prove it is not UTF-16
        (b"<meta charset=no-such><meta charset=tis-620>", "tis-620"),
    ],
)
def test_meta_prescan_follows_the_html_algorithm(head: bytes, label: str | None) -> None:
    assert prescan_meta_charset(head) == label


def test_meta_after_the_first_1024_bytes_is_not_read() -> None:
    assert prescan_meta_charset(b"<p>" + b"x" * 1100 + b'<meta charset="koi8-r">') is None


def test_xhtml_with_xml_declaration_is_parsed_as_xml(tmp_path: Path) -> None:
    page = (
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title/><script src="a.js"/></head>'
        b"<body><h1>R\xe9sum\xe9</h1><p>Price \x80 12</p></body></html>"
    )
    extraction = _extract(_write(tmp_path, "cv.xhtml", page))
    assert extraction.text == "Résumé\n\nPrice € 12"
    assert extraction.metadata["parsed_as"] == "xhtml"
    assert extraction.markdown == "# Résumé\n\nPrice € 12"


def test_html_markdown_has_headings_lists_and_tables(tmp_path: Path) -> None:
    page = (
        b"<html><body><h2>Opening hours</h2><p>Open <b>daily</b>.<br>Closed on holidays.</p>"
        b"<ul><li>Monday</li><li>Tuesday<ol><li>morning</li></ol></li></ul>"
        b"<table><tr><th>Day</th><th>Hours</th></tr><tr><td>Mon</td><td>9-17</td></tr></table>"
        b"<pre>  indented *code*</pre></body></html>"
    )
    extraction = _extract(_write(tmp_path, "hours.html", page))
    assert extraction.markdown == (
        "## Opening hours\n\n"
        "Open daily.\\\nClosed on holidays.\n\n"
        "- Monday\n- Tuesday\n  1. morning\n\n"
        "| Day | Hours |\n| --- | --- |\n| Mon | 9-17 |\n\n"
        "```\n  indented *code*\n```"
    )
    assert "Day\tHours\nMon\t9-17" in extraction.text


def _epub(path: Path, chapters: dict[str, str], spine: list[str], metadata: str) -> Path:
    manifest = "".join(
        f'<item id="{name}" href="{name}" media-type="application/xhtml+xml"/>' for name in sorted(chapters)
    )
    itemrefs = "".join(f'<itemref idref="{name}"/>' for name in spine)
    opf = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<package xmlns="http://www.idpf.org/2007/opf" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:opf="http://www.idpf.org/2007/opf" version="2.0">'
        f"<metadata>{metadata}</metadata><manifest>{manifest}</manifest><spine>{itemrefs}</spine></package>"
    )
    container = (
        '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", container)
        archive.writestr("OEBPS/content.opf", opf)
        for name, body in chapters.items():
            archive.writestr(f"OEBPS/{name}", body)
    return path


_XHTML = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml"><head><title/><script type="text/javascript"/></head>'
    "<body>{}</body></html>"
)


def test_epub_chapters_with_self_closed_head_elements_keep_their_text(tmp_path: Path) -> None:
    chapters = {
        "a.xhtml": _XHTML.format("<h1>Chapter One</h1><p>The ferry left at&nbsp;dawn.</p>"),
        "b.xhtml": _XHTML.format("<h1>Chapter Two</h1><p>The gulls followed it out.</p>"),
        "c.xhtml": _XHTML.format('<div><img src="cover.jpg" alt=""/></div>'),
    }
    metadata = (
        "<dc:title>Harbour Tales</dc:title><dc:creator>Ada Example</dc:creator><dc:creator>Bo Sample</dc:creator>"
        '<dc:language>en</dc:language><dc:date opf:event="publication">2020-05-01</dc:date>'
    )
    path = _epub(tmp_path / "tales.epub", chapters, ["c.xhtml", "b.xhtml", "a.xhtml"], metadata)
    extraction = _extract(path)
    assert [page.label for page in extraction.pages] == ["c.xhtml", "b.xhtml", "a.xhtml"]
    assert extraction.pages[1].text == "Chapter Two\n\nThe gulls followed it out."
    assert extraction.pages[2].text == "Chapter One\n\nThe ferry left at dawn."
    assert extraction.pages[2].markdown == "# Chapter One\n\nThe ferry left at dawn."
    assert extraction.warnings == ["chapter c.xhtml has no text (1 image only)"]
    assert extraction.title == "Harbour Tales"
    assert extraction.metadata["author"] == "Ada Example; Bo Sample"
    assert extraction.metadata["language"] == "en"
    assert extraction.metadata["date"] == "2020-05-01"


def test_epub_chapter_that_is_not_well_formed_falls_back_to_the_html_parser(tmp_path: Path) -> None:
    broken = "<html><body><p>Unclosed paragraph<p>and a second one &copy; 2020</body></html>"
    path = _epub(tmp_path / "broken.epub", {"a.xhtml": broken}, ["a.xhtml"], "<dc:title>B</dc:title>")
    extraction = _extract(path)
    assert extraction.text == "Unclosed paragraph\n\nand a second one © 2020"
    assert extraction.warnings == []


def test_epub_date_that_is_not_iso_is_left_out(tmp_path: Path) -> None:
    chapters = {"a.xhtml": _XHTML.format("<p>Text</p>")}
    path = _epub(tmp_path / "d.epub", chapters, ["a.xhtml"], "<dc:date>May 2020</dc:date>")
    assert "date" not in _extract(path).metadata


def test_epub_spine_entry_missing_from_the_manifest_is_a_warning(tmp_path: Path) -> None:
    chapters = {"a.xhtml": _XHTML.format("<p>Kept</p>")}
    extraction = _extract(_epub(tmp_path / "m.epub", chapters, ["ghost", "a.xhtml"], ""))
    assert extraction.text == "Kept"
    assert extraction.warnings == ["spine entry 'ghost' is not in the manifest: skipped"]


def test_utf8_page_labelled_latin1_is_read_as_utf8_with_a_warning(tmp_path: Path) -> None:
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>I’m in Zürich</p></body></html>'.encode()
    extraction = _extract(_write(tmp_path, "mislabelled.html", page))
    assert extraction.text == "I’m in Zürich"
    assert extraction.warnings == ["the page declared as iso-8859-1 is not iso-8859-1: read as utf-8"]


@pytest.mark.parametrize("name", ["page.html", "page.xhtml"])
def test_images_alternative_text_is_kept_and_empty_alt_adds_nothing(tmp_path: Path, name: str) -> None:
    body = '<p>Test page</p><img src="logo.png" alt="Harbor  Lane logo"/><img src="spacer.gif" alt=""/>'
    page = f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>T</title></head><body>{body}</body></html>'
    extraction = _extract(_write(tmp_path, name, page.encode()))
    assert extraction.text == "Test page\n[image: Harbor Lane logo]"


def test_preformatted_text_keeps_its_spaces_tabs_and_blank_lines(tmp_path: Path) -> None:
    page = b"<html><body><p>Before   the   code</p><pre>  pre   formatted\n    indented\n\n\ttabbed</pre><p>after</p>"
    extraction = _extract(_write(tmp_path, "code.html", page + b"</body></html>"))
    assert extraction.text == "Before the code\n\n  pre   formatted\n    indented\n\n\ttabbed\n\nafter"
