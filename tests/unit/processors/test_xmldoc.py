from pathlib import Path

from docbatch.models import Extraction
from tests.helpers.extraction import extract_file


def _extract(path: Path) -> Extraction:
    extraction = extract_file(path)
    assert extraction.kind == "xml"
    return extraction


def test_an_rss_feed_gives_each_item_with_its_html_body_as_readable_text(tmp_path: Path) -> None:
    feed = tmp_path / "news.xml"
    feed.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        "<title>Harbor News</title>"
        "<item><title>Ferry timetable</title><pubDate>Tue, 19 Nov 2024 13:30:02 +0000</pubDate>"
        "<description>&lt;p&gt;The ferry now leaves at &lt;b&gt;seven&lt;/b&gt;.&lt;/p&gt;</description></item>"
        "<item><title>Library hours</title>"
        "<content:encoded><![CDATA[<p>Open late on Thursdays.</p><p>Closed on Sundays.</p>]]></content:encoded>"
        "<description>short teaser</description></item>"
        "</channel></rss>",
        encoding="utf-8",
    )
    extraction = _extract(feed)
    assert extraction.title == "Harbor News" and extraction.metadata["items"] == 2
    assert "The ferry now leaves at seven." in extraction.text
    assert "Open late on Thursdays." in extraction.text and "Closed on Sundays." in extraction.text
    # The escaped markup is read, never shown.
    assert "&lt;" not in extraction.text and "<p>" not in extraction.text
    assert "short teaser" not in extraction.text  # the full content wins over the teaser
    assert extraction.markdown is not None and "## Ferry timetable" in extraction.markdown


def test_an_atom_feed_reads_entries(tmp_path: Path) -> None:
    feed = tmp_path / "feed.atom"
    feed.write_text(
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Notes</title>'
        '<entry><title>First</title><updated>2026-03-14T09:30:00Z</updated><link href="https://example.org/1"/>'
        '<content type="html">&lt;p&gt;Hello &lt;i&gt;there&lt;/i&gt;&lt;/p&gt;</content></entry></feed>',
        encoding="utf-8",
    )
    extraction = _extract(feed)
    assert extraction.text == "Notes\n\nFirst\n2026-03-14T09:30:00Z\nhttps://example.org/1\nHello there"


def test_other_xml_gives_its_text_not_its_tags(tmp_path: Path) -> None:
    document = tmp_path / "data.xml"
    document.write_text(
        '<?xml version="1.0"?><!DOCTYPE book><book><title>Tides</title>'
        "<chapter><para>The tide <emph>turns</emph> at noon.</para><para>Boats wait.</para></chapter>"
        "<!-- a comment --><country><name>Trinidad &amp; Tobago</name></country></book>",
        encoding="utf-8",
    )
    extraction = _extract(document)
    assert extraction.text == "Tides\nThe tide turns at noon.\nBoats wait.\nTrinidad & Tobago"
    assert extraction.title == "Tides" and extraction.metadata["root_element"] == "book"


def test_utf16_bytes_under_a_declaration_that_says_utf8_are_still_read(tmp_path: Path) -> None:
    document = tmp_path / "lying.xml"
    document.write_bytes('<?xml version="1.0" encoding="UTF-8"?><r><a>Grüße</a></r>'.encode("utf-16"))
    extraction = _extract(document)
    assert extraction.text == "Grüße"
    assert any("declaration does not match" in warning for warning in extraction.warnings)


def test_entity_declarations_are_refused_and_the_file_read_as_text_with_a_warning(tmp_path: Path) -> None:
    document = tmp_path / "bomb.xml"
    document.write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">]><r>&a;&a;</r>', encoding="utf-8")
    extraction = _extract(document)
    assert "aaaaaaaaaaaaaaaaaaaa" not in extraction.text
    assert any("not well-formed XML" in warning or "unsafe" in warning for warning in extraction.warnings)
