"""OpenDocument text (ODT) and presentations (ODP), fixtures written here as XML in a ZIP."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction
from docbatch.processors.base import SourceFile
from docbatch.processors.opendoc import OdtProcessor
from docbatch.processors.opendoc_slides import OdpProcessor

NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:chart="urn:oasis:names:tc:opendocument:xmlns:chart:1.0" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xlink="http://www.w3.org/1999/xlink"'
)
TEXT_TYPE = "application/vnd.oasis.opendocument.text"
PRESENTATION_TYPE = "application/vnd.oasis.opendocument.presentation"


def package(path: Path, mimetype: str, content: str, parts: dict[str, str] | None = None) -> Path:
    """An OpenDocument ZIP: the mimetype first and stored, as ODF 1.3 Part 2 §3.3 requires."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", content)
        for name, xml in (parts or {}).items():
            archive.writestr(name, xml)
    return path


def text_document(body: str, automatic_styles: str = "") -> str:
    return (
        f"<office:document-content {NS}><office:automatic-styles>{automatic_styles}</office:automatic-styles>"
        f"<office:body><office:text>{body}</office:text></office:body></office:document-content>"
    )


def odt(path: Path, body: str, parts: dict[str, str] | None = None) -> Extraction:
    document = package(path / "doc.odt", TEXT_TYPE, text_document(body), parts)
    return OdtProcessor().extract(SourceFile(path=document, size=document.stat().st_size, head=b"PK"), "odt")


def test_tracked_changes_give_the_accepted_view(tmp_path: Path) -> None:
    body = (
        "<text:tracked-changes><text:changed-region text:id='c1'><text:deletion><office:change-info>"
        "<dc:creator>Ann</dc:creator></office:change-info><text:p>removed words</text:p></text:deletion>"
        "</text:changed-region><text:changed-region text:id='c2'><text:insertion/></text:changed-region>"
        "</text:tracked-changes>"
        "<text:p>Kept <text:change text:change-id='c1'/><text:change-start text:change-id='c2'/>added "
        "<text:change-end text:change-id='c2'/>text.</text:p>"
    )
    result = odt(tmp_path, body)
    assert result.text == "Kept added text."
    assert "removed" not in result.text and "Ann" not in result.text


def test_tables_are_rows_and_a_markdown_table(tmp_path: Path) -> None:
    body = (
        "<table:table table:name='T1'><table:table-column table:number-columns-repeated='3'/>"
        "<table:table-header-rows><table:table-row><table:table-cell><text:p>Name</text:p></table:table-cell>"
        "<table:table-cell><text:p>Role</text:p></table:table-cell><table:table-cell/></table:table-row>"
        "</table:table-header-rows><table:table-row><table:table-cell><text:p>Ada</text:p></table:table-cell>"
        "<table:table-cell table:number-columns-spanned='2'><text:p>Chair</text:p></table:table-cell>"
        "<table:covered-table-cell/></table:table-row>"
        "<table:table-row table:number-rows-repeated='3'><table:table-cell table:number-columns-repeated='3'/>"
        "</table:table-row></table:table>"
    )
    result = odt(tmp_path, body)
    assert result.text == "Name | Role\nAda | Chair"
    assert result.markdown == "| Name | Role |\n| --- | --- |\n| Ada | Chair |"


def test_frames_text_boxes_and_alternative_text_in_reading_order(tmp_path: Path) -> None:
    body = (
        "<text:p>Before the box.<draw:frame draw:name='Frame1'><draw:text-box>"
        "<text:p>Inside the text box.</text:p></draw:text-box></draw:frame></text:p>"
        "<text:p>After.<draw:frame><svg:title>Logo</svg:title><svg:desc>A lighthouse</svg:desc>"
        "<draw:image xlink:href='Pictures/1.png'/></draw:frame></text:p>"
        "<draw:custom-shape><text:p>Shape words</text:p></draw:custom-shape>"
    )
    result = odt(tmp_path, body)
    assert result.text == ("Before the box.\nInside the text box.\nAfter.\n[image: Logo: A lighthouse]\nShape words")


def test_notes_comments_spaces_links_and_sections(tmp_path: Path) -> None:
    body = (
        "<text:section text:name='S1'><text:h text:outline-level='2'><text:number>1.</text:number>Intro</text:h>"
        "<text:p>A<text:s text:c='3'/>B<text:tab/>C<text:line-break/>D<text:soft-page-break/>"
        "<text:note text:note-class='footnote'><text:note-citation>1</text:note-citation><text:note-body>"
        "<text:p>Footnote body.</text:p></text:note-body></text:note>"
        "<office:annotation><dc:creator>Bo</dc:creator><text:p>Check this</text:p></office:annotation>"
        " see <text:a xlink:href='https://example.org/x'>the site</text:a>.</text:p></text:section>"
    )
    result = odt(tmp_path, body)
    assert result.text == (
        "1. Intro\nA   B\tC\nD[1] see the site.\n\nNotes\n[1] Footnote body.\n\nComments\nBo: Check this"
    )
    assert result.title == "1. Intro"
    markdown = result.markdown or ""
    assert markdown.startswith("## 1\\. Intro")
    assert "[the site](<https://example.org/x>)" in markdown
    assert "**Notes**" in markdown


def test_headers_and_footers_from_master_pages(tmp_path: Path) -> None:
    styles = (
        f"<office:document-styles {NS}><office:master-styles><style:master-page style:name='Standard'>"
        "<style:header><text:p>Harbor Lane Library</text:p></style:header>"
        "<style:header-left style:display='false'><text:p>Hidden left header</text:p></style:header-left>"
        "<style:footer><text:p>Confidential</text:p></style:footer></style:master-page>"
        "<style:master-page style:name='Other'><style:header><text:p>Harbor Lane Library</text:p></style:header>"
        "</style:master-page></office:master-styles></office:document-styles>"
    )
    result = odt(tmp_path, "<text:p>Body</text:p>", {"styles.xml": styles})
    assert result.text == "Body\n\nHeaders and footers\nHarbor Lane Library\nConfidential"


def test_lists_in_text_and_markdown(tmp_path: Path) -> None:
    body = (
        "<text:list><text:list-item><text:p>Apples</text:p><text:list><text:list-item><text:p>Green</text:p>"
        "</text:list-item></text:list></text:list-item><text:list-item><text:p>Pears</text:p></text:list-item>"
        "</text:list>"
    )
    result = odt(tmp_path, body)
    assert result.text == "Apples\nGreen\nPears"
    assert result.markdown == "- Apples\n  - Green\n- Pears"


def test_metadata_only_from_meta_xml(tmp_path: Path) -> None:
    meta = (
        f"<office:document-meta {NS}><office:meta><dc:title>Minutes</dc:title><meta:initial-creator>Ada"
        "</meta:initial-creator><dc:creator>Bo</dc:creator><meta:creation-date>2024-05-01T10:00:00"
        "</meta:creation-date><meta:keyword>board</meta:keyword><meta:keyword>2024</meta:keyword>"
        "<meta:document-statistic meta:page-count='3'/></office:meta></office:document-meta>"
    )
    result = odt(tmp_path, "<text:p>x</text:p>", {"meta.xml": meta})
    assert result.metadata == {
        "title": "Minutes",
        "author": "Ada",
        "last_modified_by": "Bo",
        "created": "2024-05-01T10:00:00",
        "keywords": "board, 2024",
        "page_count": 3,
    }
    assert odt(tmp_path, "<text:p>x</text:p>").metadata == {}


def test_embedded_formula_and_chart_objects(tmp_path: Path) -> None:
    body = (
        "<text:p><draw:frame><draw:object xlink:href='./Object 1'/></draw:frame></text:p>"
        "<text:p><draw:frame><draw:object xlink:href='./Object 2'/></draw:frame></text:p>"
    )
    formula = (
        "<math xmlns='http://www.w3.org/1998/Math/MathML'><semantics><mi>E</mi>"
        "<annotation encoding='StarMath 5.0'>E = m cdot c^2</annotation></semantics></math>"
    )
    chart = (
        f"<office:document-content {NS}><office:body><office:chart><chart:chart><chart:title><text:p>Visits"
        "</text:p></chart:title><table:table><table:table-header-rows><table:table-row><table:table-cell/>"
        "<table:table-cell><text:p>2024</text:p></table:table-cell></table:table-row></table:table-header-rows>"
        "<table:table-rows><table:table-row><table:table-cell><text:p>May</text:p></table:table-cell>"
        "<table:table-cell office:value='12.5'><text:p>12.5</text:p></table:table-cell></table:table-row>"
        "</table:table-rows></table:table></chart:chart></office:chart></office:body></office:document-content>"
    )
    result = odt(tmp_path, body, {"Object 1/content.xml": formula, "Object 2/content.xml": chart})
    assert result.text == "E = m cdot c^2\nChart: Visits\n | 2024\nMay | 12.5"


def test_missing_embedded_object_is_warned(tmp_path: Path) -> None:
    body = "<text:p>Text<draw:frame><draw:object xlink:href='./Object 9'/></draw:frame></text:p>"
    result = odt(tmp_path, body)
    assert result.text == "Text"
    assert len(result.warnings) == 1 and "Object 9" in result.warnings[0]


def test_not_a_text_document_is_corrupt(tmp_path: Path) -> None:
    content = (
        f"<office:document-content {NS}><office:body><office:spreadsheet/></office:body></office:document-content>"
    )
    document = package(tmp_path / "x.odt", TEXT_TYPE, content)
    with pytest.raises(CorruptDocument):
        OdtProcessor().extract(SourceFile(path=document, size=1, head=b"PK"), "odt")


def presentation_document(pages: str, automatic_styles: str = "") -> str:
    return (
        f"<office:document-content {NS}><office:automatic-styles>{automatic_styles}</office:automatic-styles>"
        f"<office:body><office:presentation>{pages}<presentation:settings/></office:presentation></office:body>"
        "</office:document-content>"
    )


def odp(tmp_path: Path, pages: str, automatic_styles: str = "", parts: dict[str, str] | None = None) -> Extraction:
    content = presentation_document(pages, automatic_styles)
    document = package(tmp_path / "deck.odp", PRESENTATION_TYPE, content, parts)
    return OdpProcessor().extract(SourceFile(path=document, size=document.stat().st_size, head=b"PK"), "odp")


def frame(text: str, cls: str = "outline") -> str:
    paragraphs = "".join(f"<text:p>{line}</text:p>" for line in text.split("\n"))
    return f"<draw:frame presentation:class='{cls}'><draw:text-box>{paragraphs}</draw:text-box></draw:frame>"


def test_odp_one_page_per_slide_with_title_notes_tables_and_alt_text(tmp_path: Path) -> None:
    table = (
        "<draw:frame><table:table><table:table-row><table:table-cell><text:p>Q1</text:p></table:table-cell>"
        "<table:table-cell><text:p>40k</text:p></table:table-cell></table:table-row></table:table></draw:frame>"
    )
    picture = "<draw:frame><svg:desc>Team photo</svg:desc><draw:image xlink:href='Pictures/p.jpg'/></draw:frame>"
    notes = (
        "<presentation:notes><draw:page-thumbnail draw:page-number='1'/>"
        f"{frame('Thank the volunteers.', 'notes')}</presentation:notes>"
    )
    body = frame("Phase one\nPhase two")
    pages = (
        f"<draw:page draw:name='page1'>{frame('Roadmap', 'title')}{body}{notes}</draw:page>"
        f"<draw:page draw:name='Money' draw:style-name='dp2'>{frame('Budget', 'title')}{table}{picture}"
        "<draw:g><draw:custom-shape><text:p>Grouped words</text:p></draw:custom-shape></draw:g></draw:page>"
    )
    hidden = (
        "<style:style style:name='dp2' style:family='drawing-page'>"
        "<style:drawing-page-properties presentation:visibility='hidden'/></style:style>"
    )
    meta = f"<office:document-meta {NS}><office:meta><dc:title>Plans</dc:title></office:meta></office:document-meta>"
    result = odp(tmp_path, pages, hidden, {"meta.xml": meta})
    assert [page.label for page in result.pages] == ["Roadmap", "Money"]
    assert result.pages[0].text == "Roadmap\nPhase one\nPhase two\nNotes: Thank the volunteers."
    assert result.pages[1].text == "Budget\nQ1 | 40k\n[image: Team photo]\nGrouped words"
    assert result.pages[1].markdown is not None and "| Q1 | 40k |\n| --- | --- |" in result.pages[1].markdown
    assert result.title == "Plans"
    assert result.metadata == {"title": "Plans", "slides": 2, "slides_with_notes": 1, "hidden_slides": 1}


def test_odp_warnings_name_the_slide(tmp_path: Path) -> None:
    pages = "<draw:page><draw:frame><draw:object xlink:href='./Object 3'/></draw:frame></draw:page>"
    result = odp(tmp_path, pages)
    assert len(result.warnings) == 1 and result.warnings[0].startswith("slide 1: embedded object Object 3")


def test_odp_without_presentation_body_is_corrupt(tmp_path: Path) -> None:
    document = package(tmp_path / "x.odp", PRESENTATION_TYPE, text_document("<text:p>x</text:p>"))
    with pytest.raises(CorruptDocument):
        OdpProcessor().extract(SourceFile(path=document, size=1, head=b"PK"), "odp")


def test_index_shows_its_body_not_its_template(tmp_path: Path) -> None:
    body = (
        "<text:table-of-content><text:table-of-content-source><text:index-title-template>Template title"
        "</text:index-title-template></text:table-of-content-source><text:index-body><text:index-title>"
        "<text:p>Contents</text:p></text:index-title><text:p>Intro<text:tab/>1</text:p></text:index-body>"
        "</text:table-of-content><text:h text:outline-level='1'>Intro</text:h>"
    )
    result = odt(tmp_path, body)
    assert result.text == "Contents\nIntro\t1\nIntro"


def test_odp_comments_on_a_slide(tmp_path: Path) -> None:
    pages = (
        f"<draw:page draw:name='Plan'>{frame('Plan', 'title')}<office:annotation><dc:creator>Ann</dc:creator>"
        "<text:p>Needs a date</text:p></office:annotation></draw:page>"
    )
    result = odp(tmp_path, pages)
    assert result.pages[0].text == "Plan\nComment: Ann: Needs a date"


def test_odp_declared_footer_shown_and_notes_page_furniture_left_out(tmp_path: Path) -> None:
    notes = (
        f"<presentation:notes>{frame('Speak slowly', 'notes')}<draw:frame presentation:class='page-number'>"
        "<draw:text-box><text:p><text:page-number>&lt;number&gt;</text:page-number></text:p></draw:text-box>"
        "</draw:frame></presentation:notes>"
    )
    pages = (
        "<presentation:footer-decl presentation:name='ftr1'>Harbor Lane 2025</presentation:footer-decl>"
        "<presentation:date-time-decl presentation:name='dtd1' presentation:source='current-date' "
        "style:data-style-name='D1'/>"
        f"<draw:page presentation:use-footer-name='ftr1' presentation:use-date-time-name='dtd1'>"
        f"{frame('Agenda', 'title')}{notes}</draw:page>"
    )
    result = odp(tmp_path, pages)
    assert result.pages[0].text == "Agenda\nHarbor Lane 2025\nNotes: Speak slowly"
