"""Build sample_docs/: one small, real document per supported format, plus a broken one.

Every file is written by the real writer library for its format (fpdf2, python-docx, openpyxl,
python-pptx, the stdlib email package) or, for the formats without a writer library in our stack
(ODT, EPUB, RTF), by the same ZIP/XML packaging those formats specify. Dates are fixed so that
re-running the script changes as little as possible.

    uv run python scripts/make_sample_docs.py [OUT_DIR]
"""

from __future__ import annotations

import csv
import datetime
import json
import sys
import zipfile
from email.message import EmailMessage
from pathlib import Path

FIXED = datetime.datetime(2026, 3, 14, 9, 30, tzinfo=datetime.UTC)
ZIP_TIME = (2026, 3, 14, 9, 30, 0)

REPORT_PARAGRAPHS = [
    "Harbor Lane Library lent 48,210 items in 2025, up 7 percent on the year before.",
    "The reading room reopened in May after the roof repair; visits recovered to 96 percent of 2023.",
    "Evening opening on Thursdays drew 3,400 visitors, most of them students and shift workers.",
    "The digitisation of the parish registers reached 1,912 pages; the rest follows in 2026.",
]
BUDGET_ROWS = [
    ("Line", "2024", "2025", "Change"),
    ("Staff", 412000, 425500, 0.033),
    ("Acquisitions", 98000, 104250, 0.064),
    ("Building", 61000, 88900, 0.457),
    ("Digital services", 23500, 27100, 0.153),
]


def make_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Harbor Lane Library - Annual Report 2025")
    pdf.set_author("Harbor Lane Library Board")
    pdf.set_subject("Annual report")
    pdf.set_creation_date(FIXED)
    pdf.set_font("Helvetica", size=12)
    for number, paragraph in enumerate(REPORT_PARAGRAPHS, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=16)
        pdf.cell(0, 10, f"Section {number}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 7, paragraph)
    pdf.output(str(path))


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Board minutes, 12 February 2026", level=1)
    document.add_paragraph("Present: A. Okafor (chair), M. Lindqvist, R. Sato, J. Moreau.")
    document.add_paragraph("The board approved the 2026 budget and the Thursday evening opening.")
    table = document.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ("Action", "Owner", "Due"), strict=True):
        cell.text = text
    for row in (
        ("Tender for roof survey", "R. Sato", "2026-04-01"),
        ("Volunteer rota", "J. Moreau", "2026-03-01"),
    ):
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text
    document.add_paragraph("The meeting closed at 20:15.")
    props = document.core_properties
    props.title = "Board minutes, 12 February 2026"
    props.author = "M. Lindqvist"
    props.created = props.modified = FIXED.replace(tzinfo=None)
    document.save(str(path))


def make_xlsx(path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Budget"
    for row in BUDGET_ROWS:
        sheet.append(row)
    visits = workbook.create_sheet("Visits")
    visits.append(("Month", "Visits"))
    for month, count in (("2025-01", 7012), ("2025-02", 6840), ("2025-03", 7733)):
        visits.append((month, count))
    workbook.properties.creator = "Finance committee"
    workbook.properties.created = workbook.properties.modified = FIXED.replace(tzinfo=None)
    workbook.save(str(path))


def make_pptx(path: Path) -> None:
    import pptx

    presentation = pptx.Presentation()
    slides = [
        ("Harbor Lane Library in 2025", "48,210 loans, 7% more than in 2024", "Open with the loan figure."),
        (
            "What changed",
            "Thursday evenings\nReading room reopened\nParish registers online",
            "Thank the volunteers.",
        ),
    ]
    for title, body, notes in slides:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        slide.notes_slide.notes_text_frame.text = notes
    presentation.core_properties.title = "Harbor Lane Library in 2025"
    presentation.core_properties.created = presentation.core_properties.modified = FIXED.replace(tzinfo=None)
    presentation.save(str(path))


def make_html(path: Path) -> None:
    path.write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Opening hours - Harbor Lane Library</title>"
        '<meta name="description" content="When the library is open"><style>p{margin:0}</style>'
        "<script>console.log('tracking')</script></head><body><nav><a href=\"/\">Home</a></nav>"
        "<h1>Opening hours</h1><p>Monday to Wednesday: <b>9:00</b> to 17:00.</p>"
        "<p>Thursday: 9:00 to 21:00 (evening opening).</p><table><tr><th>Day</th><th>Hours</th></tr>"
        "<tr><td>Saturday</td><td>10:00-14:00</td></tr></table></body></html>\n",
        encoding="utf-8",
    )


def make_text_files(folder: Path) -> None:
    (folder / "notes.md").write_text(
        "# Volunteer handbook\n\nWelcome to the team. Shifts are three hours long.\n\n"
        "## Before your shift\n\n- Sign in at the desk\n- Check the returns trolley\n",
        encoding="utf-8",
    )
    # Latin-1 on purpose: the encoding is detected, not assumed.
    (folder / "letter-latin1.txt").write_bytes(
        "Chère Madame Moreau,\n\nMerci pour votre don de 40 livres à la bibliothèque.\n".encode("latin-1")
    )
    with (folder / "loans.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["isbn", "title", "loans"])
        writer.writerow(["9780141439518", "Pride and Prejudice", 112])
        writer.writerow(["9780099518471", "The Road, a novel", 87])
    (folder / "branches.tsv").write_text("branch\topened\nHarbor Lane\t1962\nMill Street\t1998\n", encoding="utf-8")
    (folder / "catalogue.json").write_text(
        json.dumps(
            {
                "title": "New acquisitions",
                "items": [
                    {"isbn": "9780141439518", "title": "Pride and Prejudice"},
                    {"isbn": "9780099518471", "title": "The Road"},
                ],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    (folder / "events.jsonl").write_text(
        '{"date": "2026-03-05", "event": "Story time"}\n{"date": "2026-03-12", "event": "Chess club"}\n',
        encoding="utf-8",
    )


def make_eml(path: Path) -> None:
    message = EmailMessage()
    message["From"] = "Ana Okafor <chair@harborlane.example>"
    message["To"] = "board@harborlane.example"
    message["Subject"] = "Roof survey tender"
    message["Date"] = "Fri, 13 Mar 2026 16:02:00 +0000"
    message["Message-ID"] = "<tender-2026-03@harborlane.example>"
    message.set_content("Dear all,\n\nThe roof survey tender closes on 1 April. Please send names.\n\nAna\n")
    message.add_alternative("<p>Dear all,</p><p>The roof survey tender closes on <b>1 April</b>.</p>", subtype="html")
    message.add_attachment(b"scope of works\n", maintype="text", subtype="plain", filename="scope.txt")
    path.write_bytes(bytes(message))


def _zip(path: Path, parts: list[tuple[str, str]]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for index, (name, content) in enumerate(parts):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            # The mimetype part must come first and be stored uncompressed (ODF and EPUB rules).
            info.compress_type = zipfile.ZIP_STORED if index == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(info, content)


def make_odt(path: Path) -> None:
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    text = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="{office}" '
        f'xmlns:text="{text}" office:version="1.3"><office:body><office:text>'
        '<text:h text:outline-level="1">Reading group list</text:h>'
        "<text:p>March: <text:span>Middlemarch</text:span>, chapters 1 to 20.</text:p>"
        "<text:p>April: Things Fall Apart.</text:p></office:text></office:body></office:document-content>"
    )
    meta = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta xmlns:office="{office}" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><office:meta><dc:title>Reading group list</dc:title>'
        "<dc:creator>R. Sato</dc:creator></office:meta></office:document-meta>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    _zip(
        path,
        [
            ("mimetype", "application/vnd.oasis.opendocument.text"),
            ("content.xml", content),
            ("meta.xml", meta),
            ("META-INF/manifest.xml", manifest),
        ],
    )


def make_epub(path: Path) -> None:
    container = (
        '<?xml version="1.0"?>'
        '<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        '<rootfiles><rootfile full-path="OEBPS/book.opf" media-type="application/oebps-package+xml"/>'
        "</rootfiles></container>"
    )
    opf = (
        '<?xml version="1.0" encoding="UTF-8"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
        'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<dc:identifier id="id">urn:uuid:8e7c1f1e-harbor-lane-history</dc:identifier>'
        "<dc:title>A Short History of Harbor Lane</dc:title><dc:creator>J. Moreau</dc:creator>"
        "<dc:language>en</dc:language></metadata><manifest>"
        '<item id="c1" href="ch1.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="c2" href="ch2.xhtml" media-type="application/xhtml+xml"/></manifest>'
        '<spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>'
    )

    def chapter(title: str, body: str) -> str:
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head>'
            f"<title>{title}</title></head><body><h1>{title}</h1><p>{body}</p></body></html>"
        )

    _zip(
        path,
        [
            ("mimetype", "application/epub+zip"),
            ("META-INF/container.xml", container),
            ("OEBPS/book.opf", opf),
            (
                "OEBPS/ch1.xhtml",
                chapter("The reading room", "The reading room opened in 1962 above the harbour master's office."),
            ),
            (
                "OEBPS/ch2.xhtml",
                chapter("The new wing", "A children's wing followed in 1998, paid for by a public appeal."),
            ),
        ],
    )


def make_rtf(path: Path) -> None:
    path.write_bytes(
        b"{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Times New Roman;}}\\f0\\fs24 "
        b"{\\b Donation receipt}\\par Received with thanks from Mme Moreau: 40 books, March 2026.\\par "
        b"Caf\\'e9 vouchers were given to the volunteers.\\par}"
    )


def make_broken_pdf(path: Path, good_pdf: Path) -> None:
    """A PDF cut short after its first kilobyte, as a failed download leaves it."""
    path.write_bytes(good_pdf.read_bytes()[:1024])


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "sample_docs"
    (out / "office").mkdir(parents=True, exist_ok=True)
    (out / "web").mkdir(exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    (out / "broken").mkdir(exist_ok=True)
    make_pdf(out / "annual-report-2025.pdf")
    make_docx(out / "office" / "board-minutes.docx")
    make_xlsx(out / "office" / "budget-2026.xlsx")
    make_pptx(out / "office" / "year-in-review.pptx")
    make_odt(out / "office" / "reading-group.odt")
    make_rtf(out / "office" / "donation-receipt.rtf")
    make_html(out / "web" / "opening-hours.html")
    make_epub(out / "web" / "harbor-lane-history.epub")
    make_text_files(out / "data")
    make_eml(out / "roof-survey-tender.eml")
    make_broken_pdf(out / "broken" / "quarterly-figures.pdf", out / "annual-report-2025.pdf")
    print(f"sample documents written to {out}")


if __name__ == "__main__":
    main()
