"""PDF through PDFium (pypdfium2): text per page, page count, document metadata.

Page text comes from :mod:`docbatch.processors.pdf_text` (PDFium's character list, separators
checked against character boxes, words split by a line-end hyphen joined with evidence from the
whole document).
"""

from __future__ import annotations

import calendar
import re
from typing import Any, ClassVar

from pydantic import JsonValue

from docbatch.errors import CorruptDocument, EncryptedDocument
from docbatch.models import Extraction, Page
from docbatch.processors.base import Processor, SourceFile
from docbatch.processors.pdf_forms import form_field_lines, open_form
from docbatch.processors.pdf_text import PageText, is_mostly_unreadable, page_ranges, page_text, resolve_hyphens

# Document information entries that hold dates (PDF 32000-1 §14.3.3), as get_metadata_dict names them.
DATE_KEYS = ("CreationDate", "ModDate")

# PDF 32000-1 §7.9.4: D:YYYYMMDDHHmmSSOHH'mm' where every part after the year is optional (but only
# in order) and O is +, - or Z. Writers also leave out "D:" or the apostrophes, or add a trailing one.
_PDF_DATE = re.compile(
    r"(?:D:)?(?P<year>\d{4})(?P<month>\d{2})?(?P<day>\d{2})?(?P<hour>\d{2})?(?P<minute>\d{2})?(?P<second>\d{2})?"
    r"(?:(?P<utc>Z)(?:00'?(?:00'?)?)?|(?P<sign>[+-])(?P<tz_hour>\d{2})(?:'?(?P<tz_minute>\d{2}))?'?)?"
)


class PdfProcessor(Processor):
    name = "pdf"
    kinds: ClassVar[tuple[str, ...]] = ("pdf",)
    library = "pypdfium2"
    description = "text per page and document info via PDFium"

    def extract(self, source: SourceFile, kind: str) -> Extraction:
        import pypdfium2 as pdfium

        try:
            document = pdfium.PdfDocument(str(source.path))
        except pdfium.PdfiumError as error:
            message = str(error)
            if "password" in message.lower():
                raise EncryptedDocument("password-protected PDF") from error
            raise CorruptDocument(f"PDFium cannot open it: {message}") from error
        warnings: list[str] = []
        try:
            forms = open_form(document, warnings)
            page_texts = [_page_text(document, index, warnings, forms) for index in range(len(document))]
            metadata = document_metadata(document.get_metadata_dict(skip_empty=True))
            metadata["page_count"] = len(page_texts)
            metadata["pdf_version"] = _pdf_version(document)
            if forms:
                metadata["form_fields_filled"] = sum(page.form_fields for page in page_texts)
        finally:
            document.close()
        off_page = [index + 1 for index, page in enumerate(page_texts) if page.off_page_lines]
        if off_page:
            lines = sum(page.off_page_lines for page in page_texts)
            noun = "line" if lines == 1 else "lines"
            warnings.append(f"{page_ranges(off_page)}: {lines} {noun} of text outside the visible page area left out")
        texts = resolve_hyphens([page.text for page in page_texts])
        pages = [Page(number=index + 1, text=text) for index, text in enumerate(texts)]
        unreadable = [page.number for page in pages if page.text and is_mostly_unreadable(page.text)]
        if unreadable:
            warnings.append(
                f"{page_ranges(unreadable)}: text is mostly unreadable characters (font without a Unicode map?)"
            )
        if pages and not any(page.text.strip() for page in pages):
            warnings.append("no text layer: the PDF holds only images or vector paths (OCR is not done)")
        title = metadata.get("title")
        return Extraction.from_pages(
            "pdf",
            pages,
            title=title if isinstance(title, str) else None,
            metadata=metadata,
            warnings=warnings,
        )


def document_metadata(info: dict[str, str]) -> dict[str, JsonValue]:
    """The document information dictionary with lower-case keys and dates as ISO 8601 (when they parse)."""
    metadata: dict[str, JsonValue] = {}
    for key, value in info.items():
        metadata[key.lower()] = (pdf_date_to_iso(value) or value) if key in DATE_KEYS else value
    return metadata


def pdf_date_to_iso(value: str) -> str | None:
    """A PDF date string (PDF 32000-1 §7.9.4, e.g. ``D:20201231235959+01'00'``) as ISO 8601.

    Keeps the precision written: ``D:2020`` gives ``2020``, ``D:202012312359Z`` gives
    ``2020-12-31T23:59Z``; a time without an offset stays local (no offset). Returns None when the
    value is not such a date or names an impossible one (month 13, 31 February, hour 24).
    """
    match = _PDF_DATE.fullmatch(value.strip())
    if match is None:
        return None
    parts = match.groupdict()
    year = int(parts["year"])
    if year < 1:
        return None
    month, day = parts["month"], parts["day"]
    if month is not None and not 1 <= int(month) <= 12:
        return None
    if day is not None and not 1 <= int(day) <= calendar.monthrange(year, int(month or 1))[1]:
        return None
    iso = "-".join(part for part in (parts["year"], month, day) if part is not None)
    time = _iso_time(parts)
    if time is None:
        return None
    if time:
        if day is None:
            return None  # a time of day needs a day
        iso += "T" + time
    return iso


def _iso_time(parts: dict[str, Any]) -> str | None:
    """``HH[:mm[:SS]][offset]``, "" when the date has no time, None when a part is out of range."""
    hour, minute, second = parts["hour"], parts["minute"], parts["second"]
    has_offset = parts["utc"] is not None or parts["sign"] is not None
    if hour is None:
        return None if has_offset else ""
    limits = ((hour, 23), (minute, 59), (second, 59))
    if any(part is not None and int(part) > limit for part, limit in limits):
        return None
    time = ":".join(part for part in (hour, minute, second) if part is not None)
    if parts["utc"] is not None:
        return time + "Z"
    if parts["sign"] is not None:
        tz_hour, tz_minute = parts["tz_hour"], parts["tz_minute"] or "00"
        if int(tz_hour) > 23 or int(tz_minute) > 59:
            return None
        sign = "+" if tz_hour == "00" and tz_minute == "00" else parts["sign"]  # ISO 8601 has no -00:00
        return f"{time}{sign}{tz_hour}:{tz_minute}"
    return time


def _page_text(document: Any, index: int, warnings: list[str], forms: bool) -> PageText:
    import pypdfium2 as pdfium

    try:
        page = document[index]
    except pdfium.PdfiumError as error:
        warnings.append(f"page {index + 1}: cannot load: {error}")
        return PageText("")
    try:
        textpage = page.get_textpage()
        try:
            found = page_text(textpage, page.get_bbox())
        finally:
            textpage.close()
        fields = form_field_lines(document, page) if forms else []
    finally:
        page.close()
    if fields:
        # The values sit in the form, not in the page's content: they follow the page's text.
        text = "\n\n".join(part for part in (found.text, "Form fields:\n" + "\n".join(fields)) if part)
        return PageText(text, found.off_page_lines, form_fields=len(fields))
    return found


def _pdf_version(document: Any) -> str | None:
    version = document.get_version()
    if not version:
        return None
    return f"{version // 10}.{version % 10}"
