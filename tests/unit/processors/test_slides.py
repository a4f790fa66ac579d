"""PowerPoint decks read from PresentationML (fixtures built here, by hand or with python-pptx)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from docbatch.errors import CorruptDocument
from docbatch.models import Extraction
from docbatch.processors.base import SourceFile
from docbatch.processors.slides import PptxProcessor

NS = (
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
)
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


def rels(*targets: tuple[str, str, str]) -> str:
    items = "".join(f'<Relationship Id="{i}" Type="{REL}/{t}" Target="{target}"/>' for i, t, target in targets)
    return f'<Relationships xmlns="{PKG_REL}">{items}</Relationships>'


def slide(shapes: str, attributes: str = "") -> str:
    return f"<p:sld {NS}{attributes}><p:cSld><p:spTree>{shapes}</p:spTree></p:cSld></p:sld>"


def text_shape(text: str, placeholder: str | None = None, name: str = "Shape", geometry: bool = True) -> str:
    ph = f'<p:ph type="{placeholder}"/>' if placeholder else ""
    geom = '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom>' if geometry else ""
    paragraphs = "".join(f"<a:p><a:r><a:t>{line}</a:t></a:r></a:p>" for line in text.split("\n"))
    return (
        f'<p:sp><p:nvSpPr><p:cNvPr id="2" name="{name}"/><p:cNvSpPr/><p:nvPr>{ph}</p:nvPr></p:nvSpPr>'
        f"<p:spPr>{geom}</p:spPr><p:txBody><a:bodyPr/>{paragraphs}</p:txBody></p:sp>"
    )


def build_deck(
    path: Path,
    slides: list[str],
    extra_parts: dict[str, str] | None = None,
    slide_rels: dict[int, str] | None = None,
    core: str | None = None,
) -> Path:
    """A deck whose slide files are numbered in reverse, so file order differs from presentation order."""
    count = len(slides)
    ids = "".join(f'<p:sldId id="{256 + n}" r:id="rId{n + 1}"/>' for n in range(count))
    presentation = f"<p:presentation {NS}><p:sldIdLst>{ids}</p:sldIdLst></p:presentation>"
    targets = [(f"rId{n + 1}", "slide", f"slides/slide{count - n}.xml") for n in range(count)]
    package_rels = [("rId1", "officeDocument", "ppt/presentation.xml")]
    if core is not None:
        package_rels.append(("rId2", "metadata/core-properties", "docProps/core.xml"))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("_rels/.rels", rels(*package_rels))
        archive.writestr("ppt/presentation.xml", presentation)
        archive.writestr("ppt/_rels/presentation.xml.rels", rels(*targets))
        for n, xml in enumerate(slides):
            archive.writestr(f"ppt/slides/slide{count - n}.xml", xml)
            if slide_rels and n in slide_rels:
                archive.writestr(f"ppt/slides/_rels/slide{count - n}.xml.rels", slide_rels[n])
        for name, xml in (extra_parts or {}).items():
            archive.writestr(name, xml)
        if core is not None:
            archive.writestr("docProps/core.xml", core)
    return path


def extract(path: Path) -> Extraction:
    return PptxProcessor().extract(SourceFile(path=path, size=path.stat().st_size, head=b"PK"), "pptx")


def test_shape_without_geometry_and_slide_order(tmp_path: Path) -> None:
    deck = build_deck(
        tmp_path / "deck.pptm",
        [
            slide(text_shape("Roadmap", "title") + text_shape("Phase one ships in June", geometry=False)),
            slide(text_shape("Budget", "title") + text_shape("Total 40k", geometry=False)),
        ],
    )
    result = extract(deck)
    assert [page.label for page in result.pages] == ["Roadmap", "Budget"]
    assert result.pages[0].text == "Roadmap\nPhase one ships in June"
    assert result.text == "Roadmap\nPhase one ships in June\n\nBudget\nTotal 40k"
    assert result.title == "Roadmap"
    assert result.pages[0].markdown is not None and result.pages[0].markdown.startswith("### Roadmap")
    assert result.warnings == []


def test_groups_tables_fields_breaks_and_alternative_text(tmp_path: Path) -> None:
    group = (
        "<p:grpSp><p:nvGrpSpPr><p:cNvPr id='5' name='Group'/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>"
        "<p:grpSp><p:nvGrpSpPr><p:cNvPr id='6' name='Inner'/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>"
        f"{text_shape('Deep inside')}</p:grpSp></p:grpSp>"
    )
    fields = (
        "<p:sp><p:nvSpPr><p:cNvPr id='3' name='F'/><p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>"
        "<a:p><a:r><a:t>Page </a:t></a:r><a:fld id='{1}' type='slidenum'><a:t>7</a:t></a:fld><a:br/>"
        "<a:r><a:t>second line</a:t></a:r></a:p></p:txBody></p:sp>"
    )
    cell = "<a:tc><a:txBody><a:bodyPr/><a:p><a:r><a:t>{}</a:t></a:r></a:p></a:txBody></a:tc>"
    table = (
        "<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id='4' name='Table'/><p:cNvGraphicFramePr/><p:nvPr/>"
        "</p:nvGraphicFramePr><p:xfrm/><a:graphic><a:graphicData uri='http://schemas.openxmlformats.org/"
        "drawingml/2006/table'><a:tbl><a:tblGrid/>"
        f"<a:tr>{cell.format('Item')}{cell.format('Cost')}</a:tr><a:tr>{cell.format('Pens')}{cell.format('3')}</a:tr>"
        "</a:tbl></a:graphicData></a:graphic></p:graphicFrame>"
    )
    picture = "<p:pic><p:nvPicPr><p:cNvPr id='7' name='Picture 1' descr='A red kite'/></p:nvPicPr></p:pic>"
    result = extract(build_deck(tmp_path / "d.pptx", [slide(group + fields + table + picture)]))
    assert result.text == "Deep inside\nPage 7\nsecond line\nItem | Cost\nPens | 3\n[image: A red kite]"
    markdown = result.pages[0].markdown or ""
    assert "| Item | Cost |\n| --- | --- |\n| Pens | 3 |" in markdown
    assert "Page 7\\\nsecond line" in markdown


def test_alternate_content_gives_choice_or_fallback_never_both(tmp_path: Path) -> None:
    alternate = (
        "<mc:AlternateContent><mc:Choice Requires='p14'>"
        f"{text_shape('Chosen text')}</mc:Choice><mc:Fallback>{text_shape('Fallback text')}</mc:Fallback>"
        "</mc:AlternateContent>"
    )
    fallback_only = (
        "<mc:AlternateContent><mc:Choice Requires='p14'><p:contentPart r:id='rId9'/></mc:Choice>"
        f"<mc:Fallback>{text_shape('Ink as picture')}</mc:Fallback></mc:AlternateContent>"
    )
    result = extract(build_deck(tmp_path / "d.pptx", [slide(alternate + fallback_only)]))
    assert result.text == "Chosen text\nInk as picture"


def test_unknown_shape_kind_is_read_by_its_text(tmp_path: Path) -> None:
    unknown = (
        "<p14:futureShape xmlns:p14='http://schemas.microsoft.com/office/powerpoint/2010/main'>"
        "<a:p><a:r><a:t>Words in a shape nobody knows</a:t></a:r></a:p></p14:futureShape>"
    )
    result = extract(build_deck(tmp_path / "d.pptx", [slide(unknown)]))
    assert result.text == "Words in a shape nobody knows"


def test_chart_gives_title_series_and_values(tmp_path: Path) -> None:
    frame = (
        "<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id='4' name='Chart 3'/><p:cNvGraphicFramePr/><p:nvPr/>"
        "</p:nvGraphicFramePr><p:xfrm/><a:graphic><a:graphicData uri='http://schemas.openxmlformats.org/"
        "drawingml/2006/chart'><c:chart xmlns:c='http://schemas.openxmlformats.org/drawingml/2006/chart' "
        "r:id='rId2'/></a:graphicData></a:graphic></p:graphicFrame>"
    )
    chart = (
        "<c:chartSpace xmlns:c='http://schemas.openxmlformats.org/drawingml/2006/chart'><c:chart>"
        "<c:title><c:tx><c:v>Revenue</c:v></c:tx></c:title><c:plotArea><c:lineChart><c:ser><c:tx><c:v>EU</c:v>"
        "</c:tx><c:cat><c:strLit><c:ptCount val='2'/><c:pt idx='0'><c:v>2023</c:v></c:pt><c:pt idx='1'><c:v>2024"
        "</c:v></c:pt></c:strLit></c:cat><c:val><c:numLit><c:ptCount val='2'/><c:pt idx='0'><c:v>1.25</c:v></c:pt>"
        "<c:pt idx='1'><c:v>3</c:v></c:pt></c:numLit></c:val></c:ser></c:lineChart></c:plotArea></c:chart>"
        "</c:chartSpace>"
    )
    deck = build_deck(
        tmp_path / "d.pptx",
        [slide(frame)],
        extra_parts={"ppt/charts/chart1.xml": chart},
        slide_rels={0: rels(("rId2", "chart", "../charts/chart1.xml"))},
    )
    result = extract(deck)
    assert result.text == "Chart: Revenue\nEU: 2023 = 1.25; 2024 = 3"
    assert "|  | EU |\n| --- | --- |\n| 2023 | 1.25 |" in (result.pages[0].markdown or "")


def test_missing_chart_part_is_warned_and_rest_kept(tmp_path: Path) -> None:
    frame = (
        "<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id='4' name='Chart 3'/><p:cNvGraphicFramePr/><p:nvPr/>"
        "</p:nvGraphicFramePr><a:graphic><a:graphicData uri='x'><c:chart "
        "xmlns:c='http://schemas.openxmlformats.org/drawingml/2006/chart' r:id='rId2'/></a:graphicData>"
        "</a:graphic></p:graphicFrame>"
    )
    result = extract(build_deck(tmp_path / "d.pptx", [slide(frame + text_shape("Still here"))]))
    assert result.text == "Still here"
    assert result.warnings == ["slide 1: chart part (rId2) is missing; not read"]


def test_broken_slide_part_is_warned_and_other_slides_read(tmp_path: Path) -> None:
    deck = build_deck(tmp_path / "d.pptx", [slide(text_shape("First")), "<p:sld", slide(text_shape("Third"))])
    result = extract(deck)
    assert [page.text for page in result.pages] == ["First", "", "Third"]
    assert len(result.warnings) == 1 and result.warnings[0].startswith("slide 2 could not be read")


def test_speaker_notes_hidden_slides_and_smartart(tmp_path: Path) -> None:
    notes = (
        f"<p:notes {NS}><p:cSld><p:spTree>{text_shape('1', 'sldNum')}{text_shape('Say hello', 'body')}"
        "</p:spTree></p:cSld></p:notes>"
    )
    diagram_frame = (
        "<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id='9' name='Diagram'/><p:cNvGraphicFramePr/><p:nvPr/>"
        "</p:nvGraphicFramePr><a:graphic><a:graphicData uri='http://schemas.openxmlformats.org/drawingml/2006/"
        "diagram'><dgm:relIds xmlns:dgm='http://schemas.openxmlformats.org/drawingml/2006/diagram' r:dm='rId3' "
        "r:lo='rId4'/></a:graphicData></a:graphic></p:graphicFrame>"
    )
    data = (
        f"<dgm:dataModel xmlns:dgm='http://schemas.openxmlformats.org/drawingml/2006/diagram' {NS}><dgm:ptLst>"
        "<dgm:pt modelId='0' type='doc'/><dgm:pt modelId='1'><dgm:t><a:bodyPr/><a:p><a:r><a:t>Plan</a:t></a:r>"
        "</a:p></dgm:t></dgm:pt><dgm:pt modelId='2' type='parTrans'><dgm:t><a:p><a:r><a:t>x</a:t></a:r></a:p>"
        "</dgm:t></dgm:pt><dgm:pt modelId='3'><dgm:t><a:p><a:r><a:t>Build</a:t></a:r></a:p></dgm:t></dgm:pt>"
        "</dgm:ptLst></dgm:dataModel>"
    )
    deck = build_deck(
        tmp_path / "d.ppsx",
        [slide(text_shape("Intro", "title") + diagram_frame, ' show="0"'), slide(text_shape("Plain"))],
        extra_parts={"ppt/notesSlides/notesSlide1.xml": notes, "ppt/diagrams/data1.xml": data},
        slide_rels={
            0: rels(
                ("rId2", "notesSlide", "../notesSlides/notesSlide1.xml"),
                ("rId3", "diagramData", "../diagrams/data1.xml"),
            )
        },
    )
    result = extract(deck)
    assert result.pages[0].text == "Intro\nPlan\nBuild\nNotes: Say hello"
    assert result.metadata["slides_with_notes"] == 1
    assert result.metadata["hidden_slides"] == 1
    assert result.metadata["slides"] == 2


def test_metadata_only_from_the_file(tmp_path: Path) -> None:
    bare = extract(build_deck(tmp_path / "bare.pptx", [slide(text_shape("Hi"))]))
    assert set(bare.metadata) == {"slides", "slides_with_notes", "hidden_slides"}
    core = (
        "<cp:coreProperties xmlns:cp='http://schemas.openxmlformats.org/package/2006/metadata/core-properties' "
        "xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:title>Annual review</dc:title>"
        "<dc:creator>Ada</dc:creator></cp:coreProperties>"
    )
    with_core = extract(build_deck(tmp_path / "core.pptx", [slide(text_shape("Hi"))], core=core))
    assert with_core.title == "Annual review"
    assert with_core.metadata["author"] == "Ada"


def test_strict_ooxml_deck(tmp_path: Path) -> None:
    strict_ns = NS.replace(
        "http://schemas.openxmlformats.org/drawingml/2006/main", "http://purl.oclc.org/ooxml/drawingml/main"
    )
    strict_ns = strict_ns.replace(
        "http://schemas.openxmlformats.org/presentationml/2006/main", "http://purl.oclc.org/ooxml/presentationml/main"
    )
    shape = text_shape("Strict words")
    xml = f"<p:sld {strict_ns}><p:cSld><p:spTree>{shape}</p:spTree></p:cSld></p:sld>"
    result = extract(build_deck(tmp_path / "d.pptx", [xml]))
    assert result.text == "Strict words"


def test_python_pptx_deck_with_table_and_notes(tmp_path: Path) -> None:
    pptx = pytest.importorskip("pptx")
    from pptx.util import Inches

    presentation = pptx.Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[5])
    first.shapes.title.text = "Prices"
    table = first.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for row, values in enumerate((("Fruit", "Price"), ("Apple", "0.50"))):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    first.notes_slide.notes_text_frame.text = "Mention the discount"
    path = tmp_path / "real.pptx"
    presentation.save(str(path))
    result = extract(path)
    assert result.pages[0].label == "Prices"
    assert result.pages[0].text == "Prices\nFruit | Price\nApple | 0.50\nNotes: Mention the discount"


def test_not_a_presentation_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "d.pptx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("_rels/.rels", rels(("rId1", "officeDocument", "ppt/presentation.xml")))
        archive.writestr("ppt/presentation.xml", "<doc/>")
    with pytest.raises(CorruptDocument):
        extract(path)
