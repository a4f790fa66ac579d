"""Word documents read from their XML: every fixture is a package written here, part by part."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction
from docbatch.processors.base import SourceFile
from docbatch.processors.word import DocxProcessor

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NAMESPACES = (
    f'xmlns:w="{W_NS}" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns:m="http://schemas.openxmlformats.org/officeDocument/2006/math" '
    'xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
    'xmlns:x="urn:example:unknown"'
)
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def p(text: str, properties: str = "") -> str:
    pr = f"<w:pPr>{properties}</w:pPr>" if properties else ""
    return f'<w:p>{pr}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


def numbered(text: str, num_id: int, level: int = 0) -> str:
    return p(text, f'<w:numPr><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>')


def part_xml(root: str, content: str, namespaces: str = NAMESPACES) -> str:
    return f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:{root} {namespaces}>{content}</w:{root}>'


def build(
    path: Path,
    body: str,
    *,
    parts: dict[str, tuple[str, str, str]] | None = None,
    main_type: str = DOCX_TYPE,
    core: str | None = None,
    strict: bool = False,
    document: str | None = None,
) -> Path:
    """A Word package: ``body`` is the content of w:body; ``parts`` maps a part name (under word/) to
    (relationship type suffix, content type, XML)."""
    parts = parts or {}
    rel_base = "http://purl.oclc.org/ooxml/officeDocument/relationships" if strict else f"{REL}"
    overrides = [f'<Override PartName="/word/document.xml" ContentType="{main_type}"/>']
    relationships = []
    for index, (name, (rel_type, content_type, _)) in enumerate(parts.items(), start=1):
        overrides.append(f'<Override PartName="/word/{name}" ContentType="{content_type}"/>')
        relationships.append(f'<Relationship Id="rId{index}" Type="{rel_base}/{rel_type}" Target="{name}"/>')
    package_rels = [f'<Relationship Id="rIdMain" Type="{rel_base}/officeDocument" Target="word/document.xml"/>']
    if core is not None:
        overrides.append(
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        )
        package_rels.append(
            '<Relationship Id="rIdCore" Target="docProps/core.xml" '
            'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"/>'
        )
    document = document or part_xml("document", f"<w:body>{body}</w:body>")
    if strict:
        document = document.replace(W_NS, "http://purl.oclc.org/ooxml/wordprocessingml/main").replace(
            REL, "http://purl.oclc.org/ooxml/officeDocument/relationships"
        )
    rels_ns = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>' + "".join(overrides) + "</Types>",
        )
        archive.writestr("_rels/.rels", f"<Relationships {rels_ns}>{''.join(package_rels)}</Relationships>")
        archive.writestr("word/document.xml", document)
        archive.writestr(
            "word/_rels/document.xml.rels", f"<Relationships {rels_ns}>{''.join(relationships)}</Relationships>"
        )
        for name, (_, _, xml) in parts.items():
            archive.writestr(f"word/{name}", xml)
        if core is not None:
            archive.writestr(
                "docProps/core.xml",
                '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
                'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/">'
                f"{core}</cp:coreProperties>",
            )
    return path


def extract(path: Path) -> Extraction:
    return DocxProcessor().extract(SourceFile(path=path, size=path.stat().st_size, head=b""), "docx")


def read(tmp_path: Path, body: str, **kwargs: object) -> Extraction:
    return extract(build(tmp_path / "doc.docx", body, **kwargs))  # type: ignore[arg-type]


def lines(extraction: Extraction) -> list[str]:
    return extraction.text.splitlines()


# --- text boxes and shapes ---------------------------------------------------------------------------

TEXTBOX_RUN = (
    '<w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wp:anchor><wp:docPr id="1" name="Box"/>'
    "<a:graphic><a:graphicData><wps:wsp><wps:txbx><w:txbxContent>"
    + p("CALLOUT: revenue rose")
    + p("Source: ledger")
    + "</w:txbxContent></wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>"
    "<mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent>"
    + p("CALLOUT: revenue rose")
    + p("Source: ledger")
    + "</w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r>"
)


def test_text_box_paragraphs_follow_their_anchor_once(tmp_path: Path) -> None:
    body = f"<w:p><w:r><w:t>See the figure:</w:t></w:r>{TEXTBOX_RUN}</w:p>" + p("End of summary.")
    result = read(tmp_path, body)
    assert lines(result) == ["See the figure:", "CALLOUT: revenue rose", "Source: ledger", "End of summary."]
    assert result.warnings == []


def test_vml_text_box_and_wordart_are_read(tmp_path: Path) -> None:
    body = (
        "<w:p><w:r><w:t>Anchor</w:t></w:r><w:r><w:pict><v:shape><v:textbox><w:txbxContent>"
        + p("Inside a VML box")
        + '</w:txbxContent></v:textbox></v:shape><v:shape><v:textpath string="DRAFT"/></v:shape></w:pict></w:r></w:p>'
    )
    assert lines(read(tmp_path, body)) == ["Anchor", "Inside a VML box", "DRAFT"]


def test_image_alternative_text_is_a_line(tmp_path: Path) -> None:
    body = (
        '<w:p><w:r><w:drawing><wp:inline><wp:docPr id="2" name="Picture 2" descr="A red square"/>'
        "</wp:inline></w:drawing></w:r></w:p>"
        '<w:p><w:r><w:pict><v:shape alt="Company logo"/></w:pict></w:r></w:p>'
    )
    assert lines(read(tmp_path, body)) == ["[image: A red square]", "[image: Company logo]"]


def test_embedded_object_not_read_is_a_warning(tmp_path: Path) -> None:
    body = p("Before") + '<w:p><w:r><w:object><o:OLEObject ProgID="Excel.Sheet.12" r:id="rId9"/></w:object></w:r></w:p>'
    result = read(tmp_path, body)
    assert result.warnings == ["1 embedded object (Excel.Sheet.12) not read"]


CHART = (
    '<c:chartSpace xmlns:c="http://schemas.openxmlformats.org/drawingml/2006/chart" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><c:chart><c:title><c:tx><c:rich>'
    "<a:p><a:r><a:t>Visitors per month</a:t></a:r></a:p></c:rich></c:tx></c:title><c:plotArea><c:barChart>"
    '<c:ser><c:tx><c:v>2025</c:v></c:tx><c:cat><c:strRef><c:strCache><c:ptCount val="1"/><c:pt idx="0"><c:v>May</c:v>'
    '</c:pt></c:strCache></c:strRef></c:cat><c:val><c:numRef><c:numCache><c:ptCount val="1"/><c:pt idx="0">'
    "<c:v>4120</c:v></c:pt></c:numCache></c:numRef></c:val></c:ser></c:barChart></c:plotArea></c:chart></c:chartSpace>"
)


def test_chart_in_a_drawing_gives_its_title_and_data(tmp_path: Path) -> None:
    body = (
        '<w:p><w:r><w:drawing><wp:inline><a:graphic><a:graphicData><c:chart r:id="rId1"/></a:graphicData>'
        "</a:graphic></wp:inline></w:drawing></w:r></w:p>"
    )
    chart_type = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
    result = read(tmp_path, body, parts={"charts/chart1.xml": ("chart", chart_type, CHART)})
    assert "Chart: Visitors per month" in result.text
    assert "4120" in result.text and "May" in result.text


# --- tracked changes, content controls, fields, wrappers ------------------------------------------------


def test_tracked_changes_read_as_accepted(tmp_path: Path) -> None:
    body = (
        '<w:p><w:r><w:t xml:space="preserve">The fee is </w:t></w:r>'
        '<w:del w:id="1" w:author="A"><w:r><w:delText>ten</w:delText></w:r></w:del>'
        '<w:ins w:id="2" w:author="A"><w:r><w:t>twelve</w:t></w:r></w:ins>'
        '<w:r><w:t xml:space="preserve"> euros.</w:t></w:r></w:p>'
        '<w:p><w:moveFrom w:id="3"><w:r><w:t>Moved away.</w:t></w:r></w:moveFrom></w:p>'
        '<w:p><w:moveTo w:id="4"><w:r><w:t>Moved here.</w:t></w:r></w:moveTo></w:p>'
        "<w:tbl><w:tr><w:tc>" + p("kept row") + "</w:tc></w:tr>"
        '<w:tr><w:trPr><w:del w:id="5" w:author="A"/></w:trPr><w:tc>' + p("deleted row") + "</w:tc></w:tr></w:tbl>"
    )
    text = read(tmp_path, body).text
    assert "The fee is twelve euros." in text
    assert "ten" not in text and "Moved away" not in text and "deleted row" not in text
    assert "Moved here." in text and "kept row" in text


DELETED_MARK = '<w:rPr><w:del w:id="9" w:author="A"/></w:rPr>'


def test_a_paragraph_whose_mark_is_deleted_joins_the_next_one(tmp_path: Path) -> None:
    body = (
        p("Para mark deleted", DELETED_MARK)
        + p(" and the next paragraph.")
        + p("Alone", DELETED_MARK)
        + "<w:tbl><w:tr><w:tc>"
        + p("in cell,", DELETED_MARK)
        + p(" joined")
        + "</w:tc></w:tr></w:tbl>"
        + p("Last", DELETED_MARK)
    )
    result = read(tmp_path, body)
    assert lines(result) == ["Para mark deleted and the next paragraph.", "Alone", "in cell, joined", "Last"]


def test_a_numbered_paragraph_whose_mark_is_deleted_takes_no_number_of_its_own(tmp_path: Path) -> None:
    deleted_and_numbered = '<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>' + DELETED_MARK
    body = p("Fir", deleted_and_numbered) + numbered("st", 1) + numbered("Second", 1)
    assert lines(read(tmp_path, body, parts=NUMBERING_PARTS)) == ["1. First", "2. Second"]


def test_content_controls_at_every_level_are_read(tmp_path: Path) -> None:
    sdt = "<w:sdt><w:sdtPr><w:alias w:val='Label'/></w:sdtPr><w:sdtContent>{}</w:sdtContent></w:sdt>"
    body = (
        sdt.format(p("Block control"))
        + "<w:p><w:r><w:t xml:space='preserve'>Name: </w:t></w:r>"
        + sdt.format("<w:r><w:t>Ada</w:t></w:r>")
        + "</w:p><w:tbl>"
        + sdt.format("<w:tr>" + sdt.format("<w:tc>" + p("cell control") + "</w:tc>") + "</w:tr>")
        + "</w:tbl>"
    )
    assert lines(read(tmp_path, body)) == ["Block control", "Name: Ada", "cell control"]


def test_fields_keep_their_result_and_drop_the_instruction(tmp_path: Path) -> None:
    body = (
        '<w:p><w:r><w:t xml:space="preserve">Page </w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> PAGE </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>7</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:t xml:space="preserve"> of </w:t></w:r>'
        '<w:fldSimple w:instr="NUMPAGES"><w:r><w:t>9</w:t></w:r></w:fldSimple></w:p>'
        # A nested field inside an instruction gives part of the instruction, not text.
        '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>IF </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>MERGEFIELD x</w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>inner</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        '<w:r><w:t>outer result</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
        '<w:p><w:hyperlink r:id="rId7"><w:r><w:t>the link</w:t></w:r></w:hyperlink>'
        "<w:smartTag><w:r><w:t xml:space='preserve'> Egypt</w:t></w:r></w:smartTag>"
        "<w:customXml><w:r><w:t xml:space='preserve'> custom</w:t></w:r></w:customXml></w:p>"
    )
    assert lines(read(tmp_path, body)) == ["Page 7 of 9", "outer result", "the link Egypt custom"]


def test_field_that_never_ends_is_a_warning(tmp_path: Path) -> None:
    body = '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:t>swallowed</w:t></w:r></w:p>'
    result = read(tmp_path, body)
    assert any("never ends" in warning and "9 characters" in warning for warning in result.warnings)


def test_special_characters(tmp_path: Path) -> None:
    body = (
        "<w:p><w:r><w:t>a</w:t><w:tab/><w:t>b</w:t><w:br/><w:t>c</w:t><w:noBreakHyphen/><w:t>d</w:t>"
        '<w:softHyphen/><w:t>e</w:t><w:sym w:font="Cambria" w:char="2192"/>'
        '<w:sym w:font="Symbol" w:char="F0B7"/><w:t>f</w:t></w:r></w:p>'
    )
    assert read(tmp_path, body).text == "a\tb\nc-de→f"


def test_text_inside_unknown_elements_is_kept(tmp_path: Path) -> None:
    body = (
        "<x:wrapper>"
        + p("Wrapped paragraph")
        + "</x:wrapper><w:p><x:span><w:r><w:t>inline kept</w:t></w:r></x:span></w:p>"
    )
    assert lines(read(tmp_path, body)) == ["Wrapped paragraph", "inline kept"]


# --- tables ------------------------------------------------------------------------------------------------


def test_tables_nested_and_merged(tmp_path: Path) -> None:
    nested = "<w:tbl><w:tr><w:tc>" + p("e") + "</w:tc><w:tc>" + p("f") + "</w:tc></w:tr></w:tbl>"
    body = (
        "<w:tbl><w:tr><w:tc>" + p("Name") + "</w:tc><w:tc>" + p("Role") + "</w:tc><w:tc>" + p("Note") + "</w:tc></w:tr>"
        "<w:tr><w:tc>"
        + p("Ana")
        + "</w:tc><w:tc>"
        + p("chair")
        + nested
        + "</w:tc><w:tc>"
        + p("x|y")
        + "</w:tc></w:tr>"
        '<w:tr><w:tc><w:tcPr><w:gridSpan w:val="2"/></w:tcPr>' + p("Wide") + "</w:tc><w:tc>" + p("z") + "</w:tc></w:tr>"
        "</w:tbl>"
    )
    result = read(tmp_path, body)
    assert lines(result) == ["Name | Role | Note", "Ana | chair | x|y", "  e | f", "Wide | z"]
    assert result.markdown == (
        "| Name | Role | Note |\n| --- | --- | --- |\n| Ana | chair<br>e \\| f | x\\|y |\n| Wide |  | z |"
    )


def test_text_after_a_nested_table_follows_its_rows(tmp_path: Path) -> None:
    inner = "<w:tbl><w:tr><w:tc>" + p("inner a") + "</w:tc><w:tc>" + p("inner b") + "</w:tc></w:tr></w:tbl>"
    body = (
        "<w:tbl><w:tr><w:tc>" + p("Left") + "</w:tc><w:tc>" + p("before") + inner + p("after inner") + "</w:tc></w:tr>"
        "<w:tr><w:tc>" + p("Next") + "</w:tc><w:tc>" + p("row") + "</w:tc></w:tr></w:tbl>"
    )
    result = read(tmp_path, body)
    assert lines(result) == ["Left | before", "  inner a | inner b", "  after inner", "Next | row"]
    assert result.markdown is not None
    assert "| Left | before<br>inner a \\| inner b<br>after inner |" in result.markdown


# --- equations ----------------------------------------------------------------------------------------------


def mr(text: str) -> str:
    return f"<m:r><m:t>{text}</m:t></m:r>"


def test_equations_as_linear_text(tmp_path: Path) -> None:
    fraction = f"<m:f><m:num>{mr('a+b')}</m:num><m:den>{mr('c')}</m:den></m:f>"
    power = f"<m:sSup><m:e>{mr('x')}</m:e><m:sup>{mr('2')}</m:sup></m:sSup>"
    index = f"<m:sSub><m:e>{mr('x')}</m:e><m:sub>{mr('i')}</m:sub></m:sSub>"
    root = f"<m:rad><m:radPr><m:degHide m:val='1'/></m:radPr><m:deg/><m:e>{mr('y')}</m:e></m:rad>"
    total = (
        "<m:nary><m:naryPr><m:chr m:val='∑'/></m:naryPr>"
        f"<m:sub>{mr('i=1')}</m:sub><m:sup>{mr('n')}</m:sup><m:e>{index}</m:e></m:nary>"
    )
    row = "<m:mr><m:e>{}</m:e><m:e>{}</m:e></m:mr>"
    matrix = f"<m:d><m:e><m:m>{row.format(mr('1'), mr('0'))}{row.format(mr('0'), mr('1'))}</m:m></m:e></m:d>"
    body = (
        f"<w:p><w:r><w:t xml:space='preserve'>So </w:t></w:r><m:oMath>{fraction}{mr('=')}{power}</m:oMath></w:p>"
        f"<w:p><m:oMathPara><m:oMath>{root}{mr('+')}{total}</m:oMath><m:oMath>{matrix}</m:oMath></m:oMathPara></w:p>"
    )
    assert lines(read(tmp_path, body)) == ["So (a+b)/c=x^2", "√(y)+∑_(i=1)^n x_i", "(1 & 0; 0 & 1)"]


# --- numbering and headings ----------------------------------------------------------------------------------

NUMBERING = part_xml(
    "numbering",
    '<w:abstractNum w:abstractNumId="0">'
    '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl>'
    '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/><w:lvlText w:val="%2)"/></w:lvl>'
    '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="upperRoman"/><w:lvlText w:val="%1.%2.%3"/>'
    "<w:isLgl/></w:lvl></w:abstractNum>"
    '<w:abstractNum w:abstractNumId="1"><w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/><w:lvlText w:val="\uf0b7"/></w:lvl>'
    "</w:abstractNum>"
    '<w:abstractNum w:abstractNumId="2"><w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/>'
    '<w:lvlText w:val="%1."/><w:pStyle w:val="Heading1"/></w:lvl>'
    '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1.%2"/></w:lvl>'
    "</w:abstractNum>"
    '<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num>'
    '<w:num w:numId="2"><w:abstractNumId w:val="1"/></w:num>'
    '<w:num w:numId="3"><w:abstractNumId w:val="0"/><w:lvlOverride w:ilvl="0"><w:startOverride w:val="5"/>'
    "</w:lvlOverride></w:num>"
    '<w:num w:numId="4"><w:abstractNumId w:val="2"/></w:num>',
)
STYLES = part_xml(
    "styles",
    '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/><w:basedOn w:val="Normal"/>'
    '<w:pPr><w:numPr><w:numId w:val="4"/></w:numPr><w:outlineLvl w:val="0"/></w:pPr></w:style>'
    '<w:style w:type="paragraph" w:styleId="Sub"><w:name w:val="My subheading"/><w:basedOn w:val="Heading2"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style>',
)
NUMBERING_PARTS = {
    "numbering.xml": (
        "numbering",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml",
        NUMBERING,
    ),
    "styles.xml": ("styles", "application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml", STYLES),
}


def test_list_numbers_as_the_reader_sees_them(tmp_path: Path) -> None:
    body = (
        numbered("First", 1)
        + numbered("Sub a", 1, 1)
        + numbered("Sub b", 1, 1)
        + numbered("Legal", 1, 2)
        + numbered("Second", 1)
        + numbered("Sub restarts", 1, 1)
        + numbered("Dot", 2)
        + numbered("Restarted at five", 3)
        + numbered("Continues", 3)
        + p("Off", '<w:numPr><w:numId w:val="0"/></w:numPr>')
    )
    result = read(tmp_path, body, parts=NUMBERING_PARTS)
    assert lines(result) == [
        "1. First",
        "  a) Sub a",
        "  b) Sub b",
        "    1.2.1 Legal",
        "2. Second",
        "  a) Sub restarts",
        "• Dot",
        "5. Restarted at five",
        "6. Continues",
        "Off",
    ]
    assert result.markdown is not None
    assert result.markdown.startswith("1. First\n    - a) Sub a\n    - b) Sub b\n        - 1.2.1 Legal\n2. Second\n")
    assert "\n- Dot\n5. Restarted at five\n6. Continues\n\nOff" in result.markdown


def test_headings_numbered_through_their_style_and_title(tmp_path: Path) -> None:
    body = (
        p("Annual report", '<w:pStyle w:val="Title"/>')
        + p("Introduction", '<w:pStyle w:val="Heading1"/>')
        + p("Scope", '<w:pStyle w:val="Heading1"/>')
        + p("Details", '<w:pStyle w:val="Sub"/>')
        + p("Body text.")
    )
    result = read(tmp_path, body, parts=NUMBERING_PARTS)
    assert lines(result) == ["Annual report", "1. Introduction", "2. Scope", "Details", "Body text."]
    assert result.markdown == "# Annual report\n\n# 1\\. Introduction\n\n# 2\\. Scope\n\n## Details\n\nBody text."
    assert result.title == "Annual report"


def test_numbering_part_unreadable_is_a_warning_and_the_body_stays(tmp_path: Path) -> None:
    parts = {"numbering.xml": ("numbering", "application/xml", "<w:numbering broken")}
    result = read(tmp_path, numbered("Item", 1), parts=parts)
    assert result.text == "Item"
    assert any(warning.startswith("numbering part word/numbering.xml not read") for warning in result.warnings)


# --- notes, comments, headers and footers ---------------------------------------------------------------------


def notes_part(kind: str, notes: dict[str, str]) -> str:
    separators = (
        f'<w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>'
        f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r><w:t>cont</w:t></w:r></w:p></w:{kind}>'
    )
    content = "".join(f'<w:{kind} w:id="{note_id}">{p(text)}</w:{kind}>' for note_id, text in notes.items())
    return part_xml(f"{kind}s", separators + content)


def test_notes_and_comments_in_their_own_sections(tmp_path: Path) -> None:
    body = (
        '<w:p><w:r><w:t>Claim</w:t></w:r><w:r><w:footnoteReference w:id="5"/></w:r>'
        '<w:r><w:t xml:space="preserve"> and more</w:t></w:r><w:r><w:footnoteReference w:id="2"/></w:r>'
        '<w:r><w:endnoteReference w:id="1"/></w:r><w:r><w:commentReference w:id="0"/></w:r></w:p>'
    )
    comments = part_xml("comments", '<w:comment w:id="0" w:author="Ana Okafor">' + p("Check this.") + "</w:comment>")
    parts = {
        "footnotes.xml": (
            "footnotes",
            "application/xml",
            notes_part("footnote", {"2": "Second note.", "5": "First note."}),
        ),
        "endnotes.xml": ("endnotes", "application/xml", notes_part("endnote", {"1": "An endnote."})),
        "comments.xml": ("comments", "application/xml", comments),
    }
    result = read(tmp_path, body, parts=parts)
    assert result.text == (
        "Claim[1] and more[2][i]\n\nFootnotes\n[1] First note.\n[2] Second note.\n\n"
        "Endnotes\n[i] An endnote.\n\nComments\n[1] Ana Okafor: Check this."
    )
    assert "cont" not in result.text
    assert result.markdown is not None and "## Footnotes\n\n\\[1\\] First note." in result.markdown
    assert result.metadata["footnotes"] == 2 and result.metadata["comments"] == 1


def test_unreadable_comments_part_is_a_warning(tmp_path: Path) -> None:
    parts = {"comments.xml": ("comments", "application/xml", "<w:comments><unclosed>")}
    result = read(tmp_path, p("Body survives."), parts=parts)
    assert result.text == "Body survives."
    assert any("comments part word/comments.xml not read" in warning for warning in result.warnings)


def test_headers_and_footers_once_each(tmp_path: Path) -> None:
    header = part_xml("hdr", p("Harbor Lane Library"))
    footer = part_xml("ftr", p("Confidential"))
    section = (
        '<w:sectPr><w:headerReference w:type="default" r:id="rId1"/><w:headerReference w:type="first" r:id="rId1"/>'
        '<w:footerReference w:type="default" r:id="rId2"/></w:sectPr>'
    )
    parts = {
        "header1.xml": ("header", "application/xml", header),
        "footer1.xml": ("footer", "application/xml", footer),
    }
    result = read(tmp_path, p("Body.") + section, parts=parts)
    assert result.metadata["headers_footers"] == ["Harbor Lane Library", "Confidential"]
    assert result.text == "Body.\n\nHeaders and footers\nHarbor Lane Library\nConfidential"
    assert result.pages == []


# --- metadata and package forms -------------------------------------------------------------------------------


def test_no_core_properties_means_no_invented_metadata(tmp_path: Path) -> None:
    result = read(tmp_path, p("Plain."))
    for invented in ("title", "last_modified_by", "modified", "created", "revision"):
        assert invented not in result.metadata
    assert result.title is None


def test_core_properties_from_the_file(tmp_path: Path) -> None:
    core = (
        "<dc:title>Board minutes</dc:title><dc:creator>R. Sato</dc:creator>"
        '<dcterms:modified xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="dcterms:W3CDTF">'
        "2026-02-12T10:00:00Z</dcterms:modified>"
    )
    result = read(tmp_path, p("Heading text", '<w:pStyle w:val="Heading1"/>'), core=core)
    assert result.title == "Board minutes"
    assert result.metadata["author"] == "R. Sato"
    assert result.metadata["modified"] == "2026-02-12T10:00:00+00:00"


@pytest.mark.parametrize(
    ("suffix", "content_type"),
    [
        ("docm", "application/vnd.ms-word.document.macroEnabled.main+xml"),
        ("dotx", "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"),
        ("dotm", "application/vnd.ms-word.template.macroEnabledTemplate.main+xml"),
    ],
)
def test_macro_and_template_packages_read_like_documents(tmp_path: Path, suffix: str, content_type: str) -> None:
    path = build(tmp_path / f"form.{suffix}", p("Expense form body."), main_type=content_type)
    assert extract(path).text == "Expense form body."


def test_strict_ooxml_reads_like_transitional(tmp_path: Path) -> None:
    path = build(tmp_path / "strict.docx", p("Strict body.") + TEXTBOX_RUN.join(["<w:p>", "</w:p>"]), strict=True)
    assert lines(extract(path)) == ["Strict body.", "CALLOUT: revenue rose", "Source: ledger"]


def test_main_part_that_is_not_word_is_corrupt(tmp_path: Path) -> None:
    path = build(tmp_path / "odd.docx", "", document="<other/>")
    with pytest.raises(CorruptDocument, match="no w:body"):
        extract(path)


def test_imported_and_external_content_not_read_is_a_warning(tmp_path: Path) -> None:
    body = p("Main text.") + '<w:altChunk r:id="rId5"/><w:p><w:subDoc r:id="rId6"/></w:p>'
    result = read(tmp_path, body)
    assert result.text == "Main text."
    assert result.warnings == ["1 imported document (altChunk) not read", "1 subdocument (a separate file) not read"]


def test_very_deep_nesting_is_read_flat_with_a_warning(tmp_path: Path) -> None:
    body = "<w:p>" + "<x:a>" * 5000 + "<w:r><w:t>deep text</w:t></w:r>" + "</x:a>" * 5000 + "</w:p>"
    result = read(tmp_path, body)
    assert result.text == "deep text"
    assert result.warnings == ["content nested too deeply was read as flat text"]
