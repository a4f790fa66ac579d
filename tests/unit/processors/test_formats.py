"""Each processor on the repository's sample documents (real files made by real writer libraries)."""

from pathlib import Path

import pytest

from docbatch.executors.job import run_job
from docbatch.models import ErrorKind, JobResult, JobSpec, JobState


def _run(path: Path) -> JobResult:
    return run_job(JobSpec(source_id=path.name, path=str(path), size=path.stat().st_size))


@pytest.mark.parametrize(
    ("relative", "kind", "title", "expected_text"),
    [
        ("annual-report-2025.pdf", "pdf", "Harbor Lane Library - Annual Report 2025", "48,210 items"),
        (
            "office/board-minutes.docx",
            "docx",
            "Board minutes, 12 February 2026",
            "Tender for roof survey | R. Sato",
        ),
        ("office/budget-2026.xlsx", "spreadsheet", None, "Building\t61000\t88900\t0.457"),
        ("office/year-in-review.pptx", "pptx", "Harbor Lane Library in 2025", "Notes: Thank the volunteers."),
        ("office/reading-group.odt", "odt", "Reading group list", "March: Middlemarch, chapters 1 to 20."),
        ("office/donation-receipt.rtf", "rtf", None, "Café vouchers"),
        ("web/opening-hours.html", "html", "Opening hours - Harbor Lane Library", "Thursday: 9:00 to 21:00"),
        ("web/harbor-lane-history.epub", "epub", "A Short History of Harbor Lane", "children's wing"),
        ("data/notes.md", "markdown", "Volunteer handbook", "Shifts are three hours long."),
        ("data/letter-latin1.txt", "text", None, "à la bibliothèque"),
        ("data/loans.csv", "csv", None, "9780099518471\tThe Road, a novel\t87"),
        ("data/branches.tsv", "csv", None, "Mill Street\t1998"),
        ("data/catalogue.json", "json", "New acquisitions", '"title": "Pride and Prejudice"'),
        ("data/events.jsonl", "jsonl", None, '{"date":"2026-03-12","event":"Chess club"}'),
        ("roof-survey-tender.eml", "eml", "Roof survey tender", "tender closes on 1 April"),
    ],
)
def test_extracts_text_and_title_from_each_format(
    sample_docs: Path, relative: str, kind: str, title: str | None, expected_text: str
) -> None:
    result = _run(sample_docs / relative)
    assert result.state is JobState.SUCCEEDED, result.message
    assert result.kind == kind
    assert result.extraction is not None
    assert result.extraction.title == title
    assert expected_text in result.extraction.text
    assert result.sha256 is not None and len(result.sha256) == 64


def test_pdf_has_one_page_per_page_and_its_metadata(sample_docs: Path) -> None:
    result = _run(sample_docs / "annual-report-2025.pdf")
    assert result.extraction is not None
    pages = result.extraction.pages
    assert [page.number for page in pages] == [1, 2, 3, 4]
    assert "Section 3" in pages[2].text and "parish registers" in pages[3].text
    assert result.extraction.metadata["author"] == "Harbor Lane Library Board"
    assert result.extraction.metadata["page_count"] == 4


def test_spreadsheet_has_one_page_per_sheet(sample_docs: Path) -> None:
    result = _run(sample_docs / "office" / "budget-2026.xlsx")
    assert result.extraction is not None
    assert [page.label for page in result.extraction.pages] == ["Budget", "Visits"]


def test_email_keeps_one_body_of_an_alternative_and_names_attachments(sample_docs: Path) -> None:
    result = _run(sample_docs / "roof-survey-tender.eml")
    assert result.extraction is not None
    assert result.extraction.text.count("Dear all") == 1
    assert result.extraction.metadata["attachments"] == ["scope.txt"]
    assert result.extraction.metadata["from"] == "Ana Okafor <chair@harborlane.example>"


def test_html_drops_scripts_and_styles(sample_docs: Path) -> None:
    result = _run(sample_docs / "web" / "opening-hours.html")
    assert result.extraction is not None
    assert "tracking" not in result.extraction.text
    assert "margin" not in result.extraction.text


def test_truncated_pdf_is_dead_with_a_corrupt_reason(sample_docs: Path) -> None:
    result = _run(sample_docs / "broken" / "quarterly-figures.pdf")
    assert result.state is JobState.DEAD
    assert result.error_kind is ErrorKind.CORRUPT
    assert result.message and "PDFium cannot open it" in result.message


def test_encrypted_pdf_is_reported_as_encrypted(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "secret")
    pdf.set_encryption(owner_password="owner", user_password="user")
    path = tmp_path / "locked.pdf"
    pdf.output(str(path))
    result = _run(path)
    assert result.error_kind is ErrorKind.ENCRYPTED


def test_invalid_json_is_corrupt_with_the_parser_message(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"a": [1, 2')
    result = _run(path)
    assert result.error_kind is ErrorKind.CORRUPT
    assert result.message and result.message.startswith("invalid JSON")


def test_xml_entity_bomb_in_odt_is_refused(tmp_path: Path) -> None:
    import zipfile

    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>'
    )
    path = tmp_path / "bomb.odt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", bomb)
    result = _run(path)
    assert result.state is JobState.DEAD
    assert result.message and "refused unsafe XML" in result.message
